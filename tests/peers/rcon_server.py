"""A real RCON server (rconx) for the Rust RCON client's tests.

Usage: rcon_server.py PORT PASSWORD. Prints "ready" once listening. Command
replies imitate Minecraft 1.20.1's wording; `long N` replies with N bytes so
the reply spans several packets.
"""
import sys

from rconx import RconServer

port, password = int(sys.argv[1]), sys.argv[2]


def handle(content, _info):
    cmd = content.text
    if cmd == "list":
        return "There are 2 of a max of 20 players online: Steve, Alex"
    if cmd.startswith("long "):
        n = int(cmd.split()[1])
        return "".join(chr(ord("a") + i % 26) for i in range(n))
    if cmd.startswith("whitelist add "):
        return "Added %s to the whitelist" % cmd.split()[2]
    if cmd == "save-all flush":
        return "Saved the game"
    return "echo:" + cmd


server = RconServer("127.0.0.1", port, authentication=password, command_handler=handle)
server.serve(on_started=lambda: print("ready", flush=True))
