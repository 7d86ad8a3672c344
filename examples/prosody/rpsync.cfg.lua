-- Prosody 0.12 configuration for rpsync (add to prosody.cfg.lua or include it).
-- mod_privilege comes from prosody-modules (Debian: apt install prosody-modules; it is
-- in the default plugin path). Tested by tests/harness on loopback.

-- Global section: mod_privilege must be loaded for the VirtualHost.
modules_enabled = {
  "roster"; "saslauth"; "disco"; "presence"; "ping"; "smacks";
  "privilege";
}

-- Small stanzas between Prosody and the component otherwise wait for the peer's delayed
-- ACK: measured on loopback, a ping through the component took 42 ms with Prosody's
-- default (Nagle on) and 2.2 ms with this; a 500-contact sync 70-105 ms vs 46-63 ms.
network_settings = { nagle = false }

-- The component port rpsync-component connects to (XEP-0114). Keep it on loopback or a
-- private network: the secret is the only protection.
component_ports = { 5347 }
component_interfaces = { "127.0.0.1" }

VirtualHost "example.test"
  -- What rpsync needs and nothing more: read rosters, and see the presence of every
  -- user and of their contacts.
  privileged_entities = {
    ["rpsync.example.test"] = { roster = "get"; presence = "roster"; };
  }

Component "rpsync.example.test"
  component_secret = "change-me"   -- same as rpsync's secret_file content
  modules_enabled = { "privilege" } -- needed on the component host too

-- Users of example.test then find rpsync through disco#items on example.test.
-- Several VirtualHosts: repeat privileged_entities on each and list them all in
-- rpsync's server.domains.
