-- wrk script for the leadscored load test: POST /v1/events with BATCH
-- events per request (JSON Lines), unique event ids, 10,000 contacts.
--   BATCH=1 TOKEN=bench wrk -t2 -c128 -d10s -s events.lua http://127.0.0.1:PORT
-- events/s counts accepted events only: the "accepted" count of each 200
-- answer; a non-2xx answer (429, 503, ...) counts as an error.
local threads = {}
local batch = tonumber(os.getenv("BATCH") or "1")
local token = os.getenv("TOKEN") or "bench"
local types = {"email_open", "page_view", "email_click", "form_submit"}
-- Ids unique across runs against the same daemon: nothing is a duplicate.
local run = os.getenv("RUN") or tostring(os.time())

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

local counter = 0
accepted = 0
non2xx = 0
local headers = {["Authorization"] = "Bearer " .. token,
                 ["Content-Type"] = "application/x-ndjson"}

function request()
   counter = counter + 1
   local lines = {}
   for i = 1, batch do
      local n = counter * batch + i + tid * 7919
      lines[i] = string.format(
         '{"contact":"c-%d","type":"%s","ts":1793527200,"id":"%s-%d-%d-%d","props":{"url":"/pricing"}}',
         n % 10000, types[n % 4 + 1], run, tid, counter, i)
   end
   return wrk.format("POST", "/v1/events", headers, table.concat(lines, "\n"))
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      local a = body and string.match(body, '"accepted":(%d+)')
      accepted = accepted + (tonumber(a) or 0)
   else
      non2xx = non2xx + 1
   end
end

function done(summary, latency, requests)
   local secs = summary.duration / 1e6
   local acc, n2 = 0, 0
   for _, t in ipairs(threads) do
      acc = acc + (tonumber(t:get("accepted")) or 0)
      n2 = n2 + (tonumber(t:get("non2xx")) or 0)
   end
   local bad = summary.errors.connect + summary.errors.read +
               summary.errors.write + summary.errors.timeout + n2
   io.write(string.format(
      "RESULT batch=%d requests=%d accepted=%d errors=%d non2xx=%d req/s=%.0f events/s=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
      batch, summary.requests, acc, bad, n2, summary.requests / secs,
      acc / secs, latency:percentile(50) / 1000,
      latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000))
end
