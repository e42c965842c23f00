"""A stand-in for `java -jar server.jar nogui` in the agent's end-to-end tests.

Run in the Minecraft directory the agent provisioned, like the real server:
prints vanilla 1.20.1's start-up lines, reads `rcon.port` and `rcon.password`
from the server.properties the agent wrote, and serves RCON (rconx) with
vanilla's answers, starting RCON only after the `Done` line as vanilla does.
`stop` answers, saves (writes stopped.marker) and exits 0. Like vanilla it
binds the game port (`server-port`, with SO_REUSEADDR as Java does) and stops
with "FAILED TO BIND TO PORT" when something still listens there.

Every command but `list` is appended to console.log as it arrives, so a
test can count how often an admin's request ran. `time set day|night|N`
answers as vanilla does.

With FAKE_MINECRAFT_PLAYERS set (names, comma-separated), `list` says
they are online; `say` answers nothing, as vanilla's does over RCON.

With FAKE_MINECRAFT_CRASH_ONCE set, the first run (no crashed.marker yet)
prints its first lines and exits 1: a JVM crash the agent must restart.
"""
import json
import os
import socket
import sys
import threading

from rconx import RconServer


def log(msg):
    print("[18:00:00] [Server thread/INFO]: " + msg, flush=True)


props = {}
with open("server.properties", encoding="utf-8") as f:
    for line in f:
        key, sep, value = line.rstrip("\n").partition("=")
        if sep:
            props[key] = value

log("Starting minecraft server version 1.20.1")
if os.environ.get("FAKE_MINECRAFT_CRASH_ONCE") and not os.path.exists("crashed.marker"):
    open("crashed.marker", "w").close()
    print("Exception in server tick loop: java.lang.OutOfMemoryError", file=sys.stderr, flush=True)
    sys.exit(1)
game = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
game.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    game.bind(("0.0.0.0", int(props.get("server-port", "25565"))))
    game.listen(8)
except OSError as e:
    log("**** FAILED TO BIND TO PORT! (%s)" % e)
    sys.exit(1)


def refuse_players():
    # No game protocol here: a connection is accepted and closed.
    while True:
        conn, _ = game.accept()
        conn.close()


threading.Thread(target=refuse_players, daemon=True).start()
log("Preparing level \"world\"")
log('Done (0.042s)! For help, type "help"')

players = [p for p in os.environ.get("FAKE_MINECRAFT_PLAYERS", "").split(",") if p]
whitelist = set()
saving = {"on": True}
server = None


def save_whitelist():
    # As vanilla does on every change (without the UUIDs).
    with open("whitelist.json", "w", encoding="utf-8") as f:
        json.dump([{"name": n} for n in sorted(whitelist)], f)


TIMES = {"day": 1000, "noon": 6000, "night": 13000, "midnight": 18000}


def handle(content, _info):
    cmd = content.text
    verb, _, arg = cmd.partition(" ")
    if cmd != "list":
        with open("console.log", "a", encoding="utf-8") as f:
            f.write(cmd + "\n")
    if verb == "time" and arg.startswith("set "):
        value = arg[4:]
        ticks = TIMES.get(value, int(value) if value.isdigit() else None)
        if ticks is None:
            return "Incorrect argument for command"
        return "Set the time to %d" % ticks
    if verb == "say":
        return ""
    if cmd == "list":
        return "There are %d of a max of 20 players online: %s" % (len(players), ", ".join(players))
    if cmd == "save-off":
        was, saving["on"] = saving["on"], False
        return "Automatic saving is now disabled" if was else "Saving is already turned off"
    if cmd == "save-on":
        was, saving["on"] = saving["on"], True
        return "Automatic saving is now enabled" if not was else "Saving is already turned on"
    if cmd == "save-all flush":
        return "Saving the game (this may take a moment!)Saved the game"
    if verb == "whitelist" and arg.startswith("add "):
        name = arg[4:]
        if name in whitelist:
            return "Player is already whitelisted"
        whitelist.add(name)
        save_whitelist()
        return "Added %s to the whitelist" % name
    if verb == "whitelist" and arg.startswith("remove "):
        name = arg[7:]
        if name not in whitelist:
            return "Player is not whitelisted"
        whitelist.discard(name)
        save_whitelist()
        return "Removed %s from the whitelist" % name
    if cmd == "stop":
        # Answer first, then go: rconx sends the reply after this returns.
        threading.Timer(0.2, server.shutdown).start()
        return "Stopping the server"
    return "Unknown or incomplete command, see below for error"


port = int(props["rcon.port"])
server = RconServer("127.0.0.1", port, authentication=props["rcon.password"], command_handler=handle)
server.serve(on_started=lambda: log("RCON running on 0.0.0.0:%d" % port))
log("Stopping server")
log("Saving worlds")
with open("stopped.marker", "w") as f:
    f.write("stopped\n")
sys.exit(0)
