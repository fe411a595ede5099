"""What a benchmark run stands on: the service and the fakes as processes (`service`), a
database of its own (`databases`), and a lean HTTP/1.1 client for the senders (`wire`)."""
