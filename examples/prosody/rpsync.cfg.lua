-- SPDX-License-Identifier: MIT
-- Prosody 0.12 configuration for rpsync (add to /etc/prosody/prosody.cfg.lua, or put it in
-- /etc/prosody/conf.d/ and keep your own VirtualHost lines there). It is the configuration
-- the tests run against: tests/harness/prosody/prosody_server.cpp writes the same global modules,
-- privileged_entities and Component section, and tests/plugin/prosody/gate_world.cpp adds
-- modules_enabled = { "rpsync_gate" } under the VirtualHost exactly as below.
--
-- Needs two modules besides Prosody's own:
--  * mod_privilege (XEP-0356) from prosody-modules: apt install prosody-modules (Debian
--    puts it in /usr/lib/prosody/modules, Prosody's default plugin path);
--  * mod_rpsync_gate from this project: the Debian package rpsync-component installs it
--    as /usr/lib/prosody/modules/mod_rpsync_gate.lua; from a source tree, copy
--    plugin/prosody/mod_rpsync_gate.lua into a directory listed in plugin_paths.
-- docs/operator-guide.md explains every step; plugin/prosody/README.md the gate itself.

-- Global section -------------------------------------------------------------------

-- Only if the gate is not in Prosody's default plugin path (a source install):
-- plugin_paths = { "/usr/local/lib/prosody/modules" }

-- "privilege" must be loaded for the users' hosts (here, globally, as in the tests) and
-- for the component (below). If your prosody.cfg.lua already has a global modules_enabled
-- list, add "privilege" to it instead of copying this one: a second modules_enabled line
-- replaces the first. roster, presence and disco are Prosody's defaults and rpsync needs
-- all three; smacks (XEP-0198) is optional: a client resumes its stream when it can, and
-- uses rpsync when resumption has expired.
-- mod_roster always versions rosters (RFC 6121 section 2.6, stream feature rosterver):
-- there is nothing to switch on in Prosody itself; mod_rpsync_gate adds what Prosody 0.12
-- lacks (see the VirtualHost section).
modules_enabled = {
  "roster"; "saslauth"; "tls"; "disco"; "presence"; "ping"; "smacks";
  "privilege";
}

-- Turn Nagle's algorithm off on Prosody's sockets. The component and a reconnecting client
-- exchange small stanzas in lock-step (request, answer); with Nagle on, the second small
-- write waits for the peer's delayed ACK, about 40 ms on Linux. Measured on loopback:
--   a ping through the component: 42 ms with Prosody's default, 2.2 ms with nagle = false;
--   a sync for a 500-contact roster (without the component's roster cache): median
--   83-105 ms vs 46-63 ms (bench/component/README.md);
--   the privileged roster get of 500 items: 64 ms vs 18 ms (plugin/prosody/README.md);
--   the client's verification checkpoint after a synced login: answered 42-47 ms after the
--   login completed vs 3-10 ms (bench/reconnect/README.md).
-- It costs a few more TCP segments for bursts of small stanzas; nothing else changes.
network_settings = { nagle = false }

-- The component port rpsync-component connects to (XEP-0114). Keep it on loopback or a
-- private network: the shared secret is the only protection of this port.
component_ports = { 5347 }
component_interfaces = { "127.0.0.1" }

-- Users' host: repeat this block for every VirtualHost whose users use rpsync, and list
-- every such host in rpsync.toml's server.domains. ------------------------------------
VirtualHost "example.test"
  -- What rpsync needs and nothing more (XEP-0356): read any user's roster, and receive the
  -- presence broadcasts of the host's users and of their contacts. Without both,
  -- rpsync-component logs "privileges.insufficient" or "privileges.missing" with
  -- the missing line and answers every client request with not-ready.
  privileged_entities = {
    ["rpsync.example.test"] = { roster = "get"; presence = "roster"; };
  }

  -- mod_rpsync_gate, on each users' VirtualHost (not on the Component):
  --  * the presence gate: a client whose sync succeeded marks its initial presence, and
  --    the server then skips the probes of that one presence, so the client does not
  --    receive every contact's presence again. WITHOUT THE GATE A SYNC COSTS MORE BYTES
  --    THAN A PLAIN LOGIN: the client gets the delta and then the full presence flood
  --    anyway (measured: 100.0-112.2 % of a plain login's bytes, against 0.28-13.2 % with
  --    the gate; bench/reconnect/README.md). Clients only send the marker to a server
  --    that advertises urn:xmpp:rpsync:0#synced, which this module adds to disco#info;
  --    rpsync-component warns when a served host lacks it.
  --  * versioned rosters: the component's privileged roster get quotes the version it
  --    holds and an unchanged roster is answered empty (500 contacts: 79 bytes instead of
  --    25.5 KB); a client's own roster get with a stale version gets only the changed
  --    items as roster pushes.
  modules_enabled = { "rpsync_gate" }
  -- Its options, with their defaults (plugin/prosody/README.md explains each):
  -- rpsync_versioned_privileged_roster = true
  -- rpsync_incremental_roster = true
  -- rpsync_roster_snapshot_versions = 4
  -- rpsync_roster_snapshot_users = 1000
  -- rpsync_roster_snapshot_items = 5000
  -- rpsync_roster_snapshot_memory = 16777216

-- The component ------------------------------------------------------------------------
Component "rpsync.example.test"
  -- The same string as the file rpsync.toml's server.secret_file names
  -- (/etc/rpsync/secret for the Debian package). Generate one, e.g. openssl rand -hex 24.
  component_secret = "change-me"
  modules_enabled = { "privilege" } -- mod_privilege is needed on the component host too

-- Clients find the component through disco#items on their own domain (Prosody lists the
-- components under it), then disco#info on the component (feature urn:xmpp:rpsync:0).
-- Reload Prosody after editing: prosodyctl reload (a new Component or module may need
-- systemctl restart prosody).
