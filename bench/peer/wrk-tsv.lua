-- wrk keeps its default request (the URL and -H headers); at the end this prints one
-- tab-separated line for bench/load-vs-peer.sh:
-- RESULT rps p50_ms p90_ms p99_ms max_ms requests non2xx socket_errors
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
