"""Server List Ping with mcstatus (a third-party client) against 127.0.0.1:PORT.

Prints the status as JSON: players online/max, version, protocol, motd text.
"""
import json
import sys

from mcstatus import JavaServer

status = JavaServer("127.0.0.1", int(sys.argv[1]), timeout=5).status()
print(json.dumps({
    "online": status.players.online,
    "max": status.players.max,
    "version": status.version.name,
    "protocol": status.version.protocol,
    "motd": status.motd.to_plain(),
    "latency_ms": status.latency,
}))
