"""A world on 127.0.0.1: the demo, and the servers tests and benchmarks use.

Owns: a real HTTP feed server (`feedserver`), a real SMTP server on aiosmtpd
that can inject faults (`mailsink`), the sample feeds that ship with digest
(`sample_feeds/`), and `digest demo` (`demo`), which runs the real pipeline
against them.

Never touches: any address but loopback. Nothing in the pipeline imports it.
"""
