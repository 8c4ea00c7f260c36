/* Models shared by the engine tests. */
#ifndef LSC_TEST_MODELS_H
#define LSC_TEST_MODELS_H

/* Round numbers for hand-checked arithmetic. */
#define MODEL_T                                                              \
    "{\"schema\":\"leadscore.model/1\",\"name\":\"t\",\"scale_max\":100,\n"  \
    " \"groups\":[{\"name\":\"fit\",\"max\":30},\n"                          \
    "   {\"name\":\"eng\",\"half_life\":\"10d\"},{\"name\":\"flat\"}],\n"    \
    " \"rules\":[\n"                                                         \
    "  {\"id\":\"big\",\"group\":\"fit\",\"points\":20,\"when\":[{\"field\":"  \
    "\"size\",\"op\":\"gte\",\"value\":100}]},\n"                            \
    "  {\"id\":\"vip\",\"group\":\"fit\",\"points\":20,\"when\":[{\"field\":"  \
    "\"vip\",\"op\":\"eq\",\"value\":\"yes\"}]},\n"                          \
    "  {\"id\":\"anon\",\"group\":\"fit\",\"points\":1,\"when\":[{\"field\":"  \
    "\"email\",\"op\":\"not_exists\"}]},\n"                                  \
    "  {\"id\":\"open\",\"group\":\"eng\",\"points\":10,\"event\":"          \
    "\"email_open\"},\n"                                                     \
    "  {\"id\":\"minus\",\"group\":\"eng\",\"points\":-10,\"event\":"        \
    "\"complaint\"},\n"                                                      \
    "  {\"id\":\"ping\",\"group\":\"flat\",\"points\":1.5,\"event\":"        \
    "\"ping\"},\n"                                                           \
    "  {\"id\":\"half\",\"group\":\"flat\",\"points\":0.5,\"event\":"        \
    "\"half\"},\n"                                                           \
    "  {\"id\":\"neg\",\"group\":\"flat\",\"points\":-50,\"event\":"         \
    "\"unsub\",\"once\":true},\n"                                            \
    "  {\"id\":\"once\",\"group\":\"flat\",\"points\":5,\"event\":\"form\"," \
    "\"once\":true},\n"                                                      \
    "  {\"id\":\"max2\",\"group\":\"flat\",\"points\":3,\"event\":\"view\"," \
    "\"max_awards\":2,\"when\":[{\"field\":\"url\",\"op\":\"prefix\","       \
    "\"value\":\"/pricing\"}]},\n"                                           \
    "  {\"id\":\"cool\",\"group\":\"flat\",\"points\":1,\"event\":\"tick\"," \
    "\"cooldown\":\"1d\"},\n"                                                \
    "  {\"id\":\"oncecool\",\"group\":\"flat\",\"points\":1,\"event\":"      \
    "\"tock\",\"once\":true,\"cooldown\":\"1h\"},\n"                         \
    "  {\"id\":\"huge\",\"group\":\"flat\",\"points\":500,\"event\":"        \
    "\"huge\"}\n"                                                            \
    " ],\n"                                                                  \
    " \"tiers\":[{\"name\":\"cold\",\"min\":0},{\"name\":\"warm\",\"min\":"  \
    "20},{\"name\":\"hot\",\"min\":50}],\n"                                  \
    " \"hysteresis\":5}\n"

/* The contract's example model. */
#define MODEL_B2B                                                            \
    "{\n"                                                                    \
    "  \"schema\": \"leadscore.model/1\",\n"                                 \
    "  \"name\": \"b2b-default\",\n"                                         \
    "  \"scale_max\": 100,\n"                                                \
    "  \"groups\": [\n"                                                      \
    "    {\"name\": \"fit\", \"max\": 40},\n"                                \
    "    {\"name\": \"engagement\", \"max\": 60, \"half_life\": \"30d\"},\n" \
    "    {\"name\": \"disqualifiers\"}\n"                                    \
    "  ],\n"                                                                 \
    "  \"rules\": [\n"                                                       \
    "    {\"id\": \"decision-maker\", \"group\": \"fit\", \"points\": 15,\n" \
    "     \"when\": [{\"field\": \"job_title\", \"op\": \"contains_any\", "  \
    "\"value\": [\"ceo\", \"cto\", \"director\", \"vp\"]}]},\n"              \
    "    {\"id\": \"free-mail\", \"group\": \"fit\", \"points\": -10,\n"     \
    "     \"when\": [{\"field\": \"email\", \"op\": \"email_domain_in\", "   \
    "\"value\": [\"gmail.com\", \"yahoo.com\"]}]},\n"                        \
    "    {\"id\": \"lead-magnet\", \"group\": \"engagement\", \"points\": "  \
    "5, \"event\": \"form_submit\", \"once\": true},\n"                      \
    "    {\"id\": \"newsletter-open\", \"group\": \"engagement\", "          \
    "\"points\": 2, \"event\": \"email_open\",\n"                            \
    "     \"cooldown\": \"1d\", \"when\": [{\"field\": \"campaign_type\", "  \
    "\"op\": \"eq\", \"value\": \"newsletter\"}]},\n"                        \
    "    {\"id\": \"pricing-page\", \"group\": \"engagement\", \"points\": " \
    "8, \"event\": \"page_view\",\n"                                         \
    "     \"max_awards\": 3, \"when\": [{\"field\": \"url\", \"op\": "       \
    "\"prefix\", \"value\": \"/pricing\"}]},\n"                              \
    "    {\"id\": \"unsubscribed\", \"group\": \"disqualifiers\", "          \
    "\"points\": -30, \"event\": \"unsubscribe\", \"once\": true}\n"         \
    "  ],\n"                                                                 \
    "  \"tiers\": [\n"                                                       \
    "    {\"name\": \"cold\", \"min\": 0},\n"                                \
    "    {\"name\": \"mql\", \"min\": 40},\n"                                \
    "    {\"name\": \"sql\", \"min\": 80}\n"                                 \
    "  ],\n"                                                                 \
    "  \"hysteresis\": 5\n"                                                  \
    "}\n"

#endif
