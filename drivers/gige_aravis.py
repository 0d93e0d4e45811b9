"""Aravis (GigE Vision / GenICam) through PyGObject: loading it, opening a camera by
address, setting features by name, and — only when a person asks — discovery.

Aravis is optional: it is imported here, on first use, so that the rest of thermorig
runs without it, and its absence is one line saying how to install it.

A camera is always opened by its IP address, from the local address that routes to it
(found with a connected UDP socket, which sends nothing): ``Aravis.Camera.new(id)``
would pick an interface by itself (on a laptop with Wi-Fi often the wrong one, and
then no frame arrives), and looking a camera up by name means discovery.
Discovery (``drivers.discovery.list_gige``) *broadcasts* on every interface: it runs
only for ``thermorig devices --network``, never while recording and never in tests.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from drivers.errors import SourceError

GVCP_PORT = 3956
INSTALL_HINT = (
    "GigE Vision cameras need Aravis 0.8 and PyGObject: run `bash scripts/install gige` "
    "(Debian/Ubuntu as root; it installs libaravis-0.8-0, gir1.2-aravis-0.8 and "
    "PyGObject<3.51), see docs/gige.md"
)


def load_aravis() -> tuple[Any, Any]:
    """The ``Aravis`` and ``Gio`` modules, or a SourceError that says how to install."""
    try:
        import gi

        gi.require_version("Aravis", "0.8")
        from gi.repository import Aravis, Gio
    except (ImportError, ValueError) as exc:  # ValueError: typelib for Aravis 0.8 absent
        raise SourceError(f"{INSTALL_HINT} ({' '.join(str(exc).split())})") from None
    return Aravis, Gio


def parse_address(text: str) -> str:
    """A dotted IPv4 address (GigE Vision is IPv4-only), or a SourceError."""
    text = text.strip()
    if not text:
        raise SourceError("gige: needs the camera's IP address, e.g. gige:192.168.1.20")
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise SourceError(
            f"gige:{text}: '{text}' is not an IPv4 address; give the camera's address "
            "(thermorig devices --network lists the cameras on the network)"
        ) from None
    if addr.version != 4:
        raise SourceError(f"gige:{text}: GigE Vision cameras have IPv4 addresses")
    return str(addr)


def local_address_for(address: str) -> str:
    """The local IPv4 address the system would use to reach ``address`` (no packet is
    sent: connecting a UDP socket only chooses the route)."""
    if ipaddress.ip_address(address).is_loopback:
        return address
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect((address, GVCP_PORT))
        except OSError as exc:
            raise SourceError(
                f"no network route to the camera at {address} ({exc.strerror}); "
                "check the cable and this computer's address on that network"
            ) from None
        return s.getsockname()[0]


def gerror_text(exc: BaseException) -> str:
    """A GLib error's message on one line."""
    return " ".join(str(getattr(exc, "message", "") or exc).split())


def open_camera(address: str) -> Any:
    """An ``Aravis.Camera`` for the GigE Vision camera at ``address``; a SourceError
    naming the likely causes if it does not answer (Aravis gives up after ~2.5 s)."""
    aravis, gio = load_aravis()
    local = gio.InetAddress.new_from_string(local_address_for(address))
    remote = gio.InetAddress.new_from_string(address)
    try:
        device = aravis.GvDevice.new(local, remote)
        return aravis.Camera.new_with_device(device)
    except Exception as exc:  # noqa: BLE001 - GLib.GError, raised by the binding
        raise SourceError(
            f"no GigE Vision camera answers at {address} ({gerror_text(exc)}); check the "
            "address, the cable, that no other program holds the camera, and that the "
            "firewall lets UDP port 3956 and the stream through (docs/gige.md)"
        ) from None


def set_features(camera: Any, features: dict[str, str]) -> None:
    """Set GenICam features by name (``IRFormat``, ``ExposureTime``, ...), in order."""
    device = camera.get_device()
    for name, value in features.items():
        if device.get_feature(name) is None:
            raise SourceError(
                f"the camera has no GenICam feature '{name}' (names are case-sensitive; "
                "the camera's manual or arv-tool-0.8 -a ADDRESS features lists them)"
            )
        try:
            device.set_features_from_string(f"{name}={value}")
        except Exception as exc:  # noqa: BLE001 - GLib.GError
            raise SourceError(f"cannot set {name}={value}: {gerror_text(exc)}") from None


def feature_text(camera: Any, name: str) -> str | None:
    """A feature's value as text, or None if the camera lacks it."""
    device = camera.get_device()
    node = device.get_feature(name)
    if node is None:
        return None
    try:
        return str(node.get_value_as_string())
    except Exception:  # noqa: BLE001 - GLib.GError: not readable now
        return None
