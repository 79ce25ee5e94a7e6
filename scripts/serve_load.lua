-- wrk script for scripts/serve_load.sh: GET /v1/recommend/{user}?n=10 for
-- random known users (USERS_FILE, one id a line) and, when POST_PERCENT > 0,
-- that share of POST /v1/ratings, each a new (user, item) pair so that the
-- database can be checked afterwards. done() prints one JSON line.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  users = {}
  for line in io.lines(os.getenv("USERS_FILE")) do
    table.insert(users, line)
  end
  post_percent = tonumber(os.getenv("POST_PERCENT") or "0")
  math.randomseed(id * 7919 + os.time())
  sent_posts, acked_posts, bad = 0, 0, 0
end

function request()
  if math.random(100) <= post_percent then
    sent_posts = sent_posts + 1
    local body = string.format('[{"user":"load-%d-%d","item":"%d","rating":%d}]',
      id, sent_posts, math.random(1682), 1 + (sent_posts % 5))
    return wrk.format("POST", "/v1/ratings", {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", "/v1/recommend/" .. users[math.random(#users)] .. "?n=10")
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  elseif string.find(body, '"stored"', 1, true) then
    acked_posts = acked_posts + 1
  end
end

function done(summary, latency, requests)
  local sent, acked, badn = 0, 0, 0
  for _, t in ipairs(threads) do
    sent = sent + t:get("sent_posts")
    acked = acked + t:get("acked_posts")
    badn = badn + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format('{"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"non200":%d,"socket_errors":%d,"posts_sent":%d,"posts_acked":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    badn + e.status, e.connect + e.read + e.write + e.timeout, sent, acked))
end
