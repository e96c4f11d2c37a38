-- wrk keeps its default request (the URL and -H headers), except that WRK_METHOD and WRK_BODY,
-- when set in the environment, give the method and body (bench/load.sh's sign-in flood: POST and
-- a JSON body), and WRK_DELAY_MS paces a probe. At the end this prints one tab-separated line for bench/load-vs-peer.sh and
-- bench/load.sh:
-- RESULT rps p50_ms p90_ms p99_ms max_ms requests non2xx socket_errors
if os.getenv("WRK_METHOD") then wrk.method = os.getenv("WRK_METHOD") end
if os.getenv("WRK_BODY") then wrk.body = os.getenv("WRK_BODY") end
-- WRK_DELAY_MS: each connection waits this long after a response before its next request, so
-- that a probe sends steady traffic instead of loading the server itself.
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "")
if pause then delay = function() return pause end end

done = function(summary, latency, requests)
  local seconds = summary.duration / 1000000
  local errors = summary.errors
  local ms = function(us) return string.format("%.2f", us / 1000) end
  print(table.concat({
    "RESULT",
    string.format("%.1f", summary.requests / seconds),
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(99)),
    ms(latency.max),
    tostring(summary.requests),
    tostring(errors.status),
    tostring(errors.connect + errors.read + errors.write + errors.timeout),
  }, "\t"))
end
