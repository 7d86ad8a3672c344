#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Computes the numbers printed in rpsync.xml (digest worked example, the digests of the
example states, the client's XEP-0115 caps hash) independently of the C++ library.

Run:  python3 xep_draft/tools/digest_values.py
The spec tests (tests/xep) check the C++ implementation against the values printed in
the spec; this script is how those values were produced.
"""
import base64
import hashlib

SHOW = {"chat", "away", "xa", "dnd"}


def enc_fields(jid, show=None, status="", priority=0, caps=None, photo="", idle=""):
    """List of (tag, name, value-bytes) in the spec's order, present fields only."""
    out = [(1, "full JID", jid.encode())]
    if show:
        assert show in SHOW
        out.append((2, "show", show.encode()))
    if status:
        out.append((3, "status", status.encode()))
    out.append((4, "priority", str(priority).encode()))
    if caps is not None:
        h, node, ver = caps
        out += [(5, "caps hash", h.encode()), (6, "caps node", node.encode()),
                (7, "caps ver", ver.encode())]
    if photo:
        out.append((8, "photo", photo.encode()))
    if idle:
        out.append((9, "idle since", idle.encode()))
    return out


def enc(fields):
    return b"".join(bytes([t]) + len(v).to_bytes(4, "big") + v for t, _, v in fields)


def h(fields):
    return int.from_bytes(hashlib.sha256(enc(fields)).digest(), "big")


def digest(resources):
    return "%064x" % (sum(h(f) for f in resources) % (1 << 256))


ROMEO = dict(jid="romeo@montague.example/orchard", show="away", status="À la fenêtre",
             priority=5, caps=("sha-1", "https://gajim.org", "q07IKJEyjvHSyhy//CH0CxmKi8w="),
             photo="01b87fcd030b72895ff8e88db57ec525450f000d", idle="2026-11-21T20:15:00Z")
NURSE = dict(jid="nurse@example.test/kitchen", priority=-1,
             caps=("", "http://psi-im.org/caps", "0.15"))
BENVOLIO = dict(jid="benvolio@montague.example/home", show="dnd", status="Fencing lesson",
                priority=1, caps=("sha-1", "https://conversations.im", "Rx7Ff3PvYw3m8bEHl3kKzBqd+WQ="))

S0 = [ROMEO, NURSE]
ROMEO_S1 = dict(ROMEO, show="chat", status="", idle="")
S1 = [ROMEO_S1, BENVOLIO]          # sync with delta
S2 = [ROMEO]                       # nurse removed from the roster
ROMEO_S3 = dict(ROMEO, priority=0)
S3 = [ROMEO_S3, NURSE]             # lost-result example


def caps_ver(identities, features):
    s = "".join(i + "<" for i in sorted(identities)) + "".join(f + "<" for f in sorted(features))
    return base64.b64encode(hashlib.sha1(s.encode()).digest()).decode()


CLIENT_FEATURES = ["http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info",
                   "urn:xmpp:ping", "urn:xmpp:rpsync:0"]

if __name__ == "__main__":
    for name, r in (("r1", ROMEO), ("r2", NURSE)):
        f = enc_fields(**r)
        print(f"enc({name}) fields:")
        for t, n, v in f:
            print(f"  {t:02x} {len(v):08x} {v.hex()}  {n}={v.decode()!r}")
        print(f"enc({name}) = {enc(f).hex()}")
        print(f"h({name}) = {h(f):064x}")
    print("S0 digest", digest([enc_fields(**r) for r in S0]), "count", len(S0))
    print("S1 digest", digest([enc_fields(**r) for r in S1]), "count", len(S1))
    print("S2 digest", digest([enc_fields(**r) for r in S2]), "count", len(S2))
    print("S3 digest", digest([enc_fields(**r) for r in S3]), "count", len(S3))
    print("client caps ver", caps_ver(["client/pc//rpsync-client"], CLIENT_FEATURES))
