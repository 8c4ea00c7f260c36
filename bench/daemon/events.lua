-- wrk script for the leadscored load test: POST /v1/events with BATCH
-- events per request (JSON Lines), unique event ids, 10,000 contacts.
--   BATCH=1 TOKEN=bench wrk -t2 -c64 -d10s -s events.lua http://127.0.0.1:PORT
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

function done(summary, latency, requests)
   local secs = summary.duration / 1e6
   local bad = summary.errors.status + summary.errors.connect +
               summary.errors.read + summary.errors.write + summary.errors.timeout
   io.write(string.format(
      "RESULT batch=%d requests=%d errors=%d req/s=%.0f events/s=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
      batch, summary.requests, bad, summary.requests / secs,
      summary.requests * batch / secs, latency:percentile(50) / 1000,
      latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000))
end
