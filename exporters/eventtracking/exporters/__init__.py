"""OTel log exporters that deliver events where people read them: logs, MongoDB, Segment."""
