"""What a benchmark run stands on: the service and the fakes as processes (`service`), a
database of its own (`databases`), a million surveys written in bulk SQL (`bulk`), and a lean
HTTP/1.1 client for the senders (`wire`)."""
