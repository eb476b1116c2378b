"""A real node's systemd-logind, as far as the kubelet's graceful node shutdown uses it, on the node's own
D-Bus system bus (hack/cluster/nodes.sh starts a dbus-daemon per node; the kubelet finds it through
DBUS_SYSTEM_BUS_ADDRESS).

The kubelet reads InhibitDelayMaxUSec, takes a `delay` inhibitor lock for `shutdown` (Inhibit returns a file
descriptor; the lock holds while it is open) and watches PrepareForShutdown. PowerOff(interactive), what a
cloud's ACPI power-off notice makes systemd do, emits PrepareForShutdown(true) and waits until every delay
lock is released or InhibitDelayMaxUSec has passed: then shutdown proceeds, which here means this process
prints `shutdown proceeding` and exits 0; whoever sent PowerOff powers the node off (node.sh down).

Run with the system python3 (Debian's python3-dbus and python3-gi, hack/install-packages.sh):
  logind.py --bus unix:path=SOCKET --inhibit-delay-max SECONDS
"""

from __future__ import annotations

import argparse
import os
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

MANAGER = "org.freedesktop.login1.Manager"
PROPERTIES = "org.freedesktop.DBus.Properties"
PATH = "/org/freedesktop/login1"


class Manager(dbus.service.Object):
    def __init__(self, bus: dbus.Bus, delay_max_s: float, loop: GLib.MainLoop) -> None:
        super().__init__(bus, PATH)
        self.delay_max_us = int(delay_max_s * 1_000_000)
        self.loop = loop
        self.locks: dict[int, str] = {}  # read end of each delay lock's pipe -> who holds it
        self.shutting_down = False

    def _properties(self) -> dict[str, dbus.UInt64]:
        return {"InhibitDelayMaxUSec": dbus.UInt64(self.delay_max_us)}

    @dbus.service.method(PROPERTIES, in_signature="ss", out_signature="v")
    def Get(self, interface: str, name: str) -> object:
        props = self._properties()
        if interface != MANAGER or name not in props:
            unknown = "org.freedesktop.DBus.Error.UnknownProperty"
            raise dbus.exceptions.DBusException(f"no property {interface}.{name}", name=unknown)
        return props[name]

    @dbus.service.method(PROPERTIES, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface: str) -> dict[str, object]:
        return dict(self._properties()) if interface == MANAGER else {}

    @dbus.service.method(MANAGER, in_signature="ssss", out_signature="h")
    def Inhibit(self, what: str, who: str, why: str, mode: str) -> dbus.types.UnixFd:
        read, write = os.pipe()
        if "shutdown" in what.split(":") and mode == "delay":
            self.locks[read] = who
            GLib.io_add_watch(read, GLib.IO_HUP | GLib.IO_ERR, self._released)
            log(f"delay lock for shutdown taken by {who}: {why}")
        else:
            os.close(read)
        lock = dbus.types.UnixFd(write)  # a duplicate travels to the caller
        os.close(write)
        return lock

    def _released(self, fd: int, _condition: int) -> bool:
        log(f"delay lock of {self.locks.pop(fd, '?')} released")
        os.close(fd)
        if self.shutting_down and not self.locks:
            self._proceed("every delay lock released")
        return False

    @dbus.service.method(MANAGER, in_signature="b")
    def PowerOff(self, interactive: bool) -> None:
        if self.shutting_down:
            return
        self.shutting_down = True
        log(f"power-off requested: PrepareForShutdown(true), waiting up to {self.delay_max_us / 1e6:.0f} s")
        self.PrepareForShutdown(True)
        if not self.locks:
            GLib.idle_add(self._proceed, "no delay lock")
        GLib.timeout_add(self.delay_max_us // 1000, self._proceed, "InhibitDelayMaxUSec passed")

    @dbus.service.signal(MANAGER, signature="b")
    def PrepareForShutdown(self, active: bool) -> None:
        pass

    def _proceed(self, why: str) -> bool:
        log(f"shutdown proceeding ({why})")
        self.loop.quit()
        return False


def log(message: str) -> None:
    print(f"[logind] {message}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bus", required=True, help="the node's system bus address (unix:path=...)")
    parser.add_argument("--inhibit-delay-max", type=float, required=True, help="InhibitDelayMaxSec (seconds)")
    args = parser.parse_args()
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(args.bus)
    name = dbus.service.BusName("org.freedesktop.login1", bus)
    loop = GLib.MainLoop()
    manager = Manager(bus, args.inhibit_delay_max, loop)
    log(f"serving org.freedesktop.login1 on {args.bus} (InhibitDelayMaxSec={args.inhibit_delay_max:g})")
    loop.run()
    del name, manager
    return 0


if __name__ == "__main__":
    sys.exit(main())
