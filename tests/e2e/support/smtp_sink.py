"""An SMTP server on loopback that keeps every message it is given as a file: the e-mail tests' mail server.

Python's own SMTP server (smtpd, in the standard library up to 3.11): a real implementation of the protocol,
not ours. Usage: smtp_sink.py PORT DIR. Each message is written to DIR/N.eml (N counting from 1), with the envelope's
recipients on a first line "X-Envelope-To: ...", and "listening" is printed once the port is open.
"""
import asyncore
import os
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import smtpd  # noqa: E402


class Sink(smtpd.SMTPServer):
    count = 0

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        Sink.count += 1
        path = os.path.join(sys.argv[2], "%d.eml" % Sink.count)
        with open(path + ".part", "wb") as f:
            f.write(("X-Envelope-To: %s\r\n" % ", ".join(rcpttos)).encode())
            f.write(data if isinstance(data, bytes) else data.encode())
        os.rename(path + ".part", path)


Sink(("127.0.0.1", int(sys.argv[1])), None, decode_data=False)
print("listening", flush=True)
asyncore.loop()
