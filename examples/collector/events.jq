# The events in the file exporter's output, one JSON object per line, in the seed's shape plus trace_id/span_id:
#   jq -c -f events.jq output/events.json
def value:
  if has("kvlistValue") then [.kvlistValue.values[]? | {(.key): (.value | value)}] | add // {}
  elif has("arrayValue") then [.arrayValue.values[]? | value]
  elif has("intValue") then .intValue | tonumber
  else to_entries[0].value end;
.resourceLogs[].scopeLogs[] | select(.scope.name == "eventtracking") | .logRecords[]
| (.body | value) + {trace_id: .traceId, span_id: .spanId}
