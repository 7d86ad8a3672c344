-- mod_rpsync_gate: skip the presence probes of an initial presence that follows a
-- successful rpsync (XEP "Roster Presence Synchronisation", section "Skipping the
-- Presence Flood"). Prosody 0.12. Load it on the VirtualHost of the users:
--
--   VirtualHost "example.test"
--     modules_enabled = { "rpsync_gate" }
--
-- Contract
--   * The host's disco#info lists the feature 'urn:xmpp:rpsync:0#synced'.
--   * A client that has just synchronised marks its initial presence with
--       <presence><synced xmlns='urn:xmpp:rpsync:0'/></presence>
--     For that presence only, the probes mod_presence would send to the user's contacts
--     (subscription 'to' or 'both') are dropped, so the contacts' current presence (and
--     the 'unavailable' answers for offline contacts) is not sent to that session: the
--     client already holds it from the sync's delta.
--   * Everything else is untouched: the presence is reflected to the session, broadcast
--     to the contacts and the user's other resources, the other available resources of
--     the same account still send their presence to the new session, pending
--     subscription requests are re-sent, offline messages are delivered, and later
--     presence of the contacts arrives as usual.
--   * The marker is removed from every presence a local client sends (initial or not,
--     broadcast or directed) before any other module sees it, so it never reaches a
--     contact, the session's stored presence or a privileged component. A marked
--     presence that is not the session's initial available presence is only stripped.
--   * Only c2s sessions that are authenticated and bound (session.type == "c2s" with a
--     full_jid) are considered; unauthenticated streams never reach these events.
--     A session can only skip the probes generated for its own initial presence, i.e.
--     it can only deprive itself of presence; nothing changes for any other session,
--     resource or user.
--
-- How it works (Prosody 0.12 flow, modules/mod_presence.lua and core/stanza_router.lua):
--   core_post_stanza(origin, presence, true) fires "pre-presence/bare" on the user's host,
--   then "presence/bare", whose mod_presence handler runs handle_normal_presence(). That
--   function, for an initial presence, fires "presence/initial" and immediately posts,
--   synchronously, one probe <presence type='probe' from=FULLJID to=CONTACT/> per roster
--   item with subscription 'to'/'both', each through core_post_stanza(origin, probe,
--   true), which fires "pre-presence/bare" (or "/host" for a domain contact) again.
--
--   1. "pre-presence/{bare,full,host}" at priority 1000 (before mod_presence): strips the
--      marker; if the presence is available, undirected and the session has no presence
--      yet, remembers the stanza object as session.rpsync_gate_marked.
--   2. "presence/initial": if its stanza is exactly that object (so mod_presence itself
--      judged it initial), stores the set of JIDs mod_presence is about to probe, computed
--      from the same roster with the same rule, as session.rpsync_gate_probes.
--   3. The same pre-presence hook drops a probe only when all hold: its origin is that
--      session, its from is the session's full JID, and its target is still in the set;
--      the target is then removed from the set. The set is therefore empty, and removed,
--      when mod_presence's probe loop ends. A module:add_timer(0) clears any leftover
--      (e.g. a probe another module rejected earlier in "pre-stanza"), so the state
--      never outlives the current event-loop turn.
--   This is stricter than a "skip everything while a flag is set" window: a probe is
--   only dropped if it is one mod_presence is known to send for this initial presence.
local NS = "urn:xmpp:rpsync:0";
local MARKER = "synced";
local FEATURE = NS.."#synced"; -- XEP: "Server Support"
local PRIORITY = 1000;

-- Clients send the marker only to a server that advertises this (otherwise it would
-- reach their contacts); needs mod_disco, which is enabled by default.
module:add_feature(FEATURE);

local function probe_targets(roster)
	local targets, n = {}, 0;
	for jid, item in pairs(roster or {}) do
		-- roster[false] holds metadata; mod_presence probes 'to' and 'both' items.
		if jid and (item.subscription == "both" or item.subscription == "to") then
			targets[jid] = true;
			n = n + 1;
		end
	end
	return targets, n;
end

local function gate_probe(event)
	local origin, stanza = event.origin, event.stanza;
	local pending = origin.rpsync_gate_probes;
	if not pending or stanza.attr.from ~= origin.full_jid then return nil; end
	-- core_post_stanza blanks 'to' for a probe addressed to the user's own bare JID.
	local target = stanza.attr.to or (event.to_self and origin.username.."@"..origin.host);
	if not target or not pending[target] then return nil; end
	pending[target] = nil;
	if next(pending) == nil then origin.rpsync_gate_probes = nil; end
	module:log("debug", "Skipped probe from %s to %s (rpsync synced)", origin.full_jid, target);
	return true;
end

local function on_outbound_presence(event)
	local origin, stanza = event.origin, event.stanza;
	if origin.type ~= "c2s" or not origin.full_jid then return nil; end
	if stanza.attr.type == "probe" then return gate_probe(event); end
	if not stanza:get_child(MARKER, NS) then return nil; end
	stanza:remove_children(MARKER, NS);
	origin.rpsync_gate_marked = nil;
	if stanza.attr.type == nil and stanza.attr.to == nil and origin.presence == nil then
		origin.rpsync_gate_marked = stanza;
	else
		module:log("debug", "Stripped rpsync marker from a non-initial presence of %s", origin.full_jid);
	end
	return nil;
end

module:hook("pre-presence/bare", on_outbound_presence, PRIORITY);
module:hook("pre-presence/full", on_outbound_presence, PRIORITY);
module:hook("pre-presence/host", on_outbound_presence, PRIORITY);

module:hook("presence/initial", function(event)
	local origin, stanza = event.origin, event.stanza;
	local marked = origin.rpsync_gate_marked;
	origin.rpsync_gate_marked = nil;
	if marked == nil or marked ~= stanza then return nil; end
	local targets, n = probe_targets(origin.roster);
	module:log("info", "%s synchronised: skipping %d presence probes", origin.full_jid, n);
	if n == 0 then return nil; end
	origin.rpsync_gate_probes = targets;
	module:add_timer(0, function()
		if origin.rpsync_gate_probes == targets then origin.rpsync_gate_probes = nil; end
	end);
	return nil;
end, PRIORITY);

-- ---------------------------------------------------------------------------------------
-- Versioned privileged roster get (for the rpsync component).
--
-- Contract (component side): send <query xmlns='jabber:iq:roster' ver='V'/> with the ver
-- of a previous answer, or ver='' when you hold none yet (RFC 6121 §2.6.2); without ver
-- the request is left to mod_privilege exactly as before.
--   * answer without <query/>          -> the roster is unchanged since V (RFC 6121 §2.6.3)
--   * <query ver='W'> with items       -> the full roster, now at version W
--   * <query/> without ver              -> the server does not version (mod_privilege alone,
--                                          e.g. this module is not loaded)
-- We answer only when all hold, otherwise return nil so that mod_privilege answers (or
-- refuses) exactly as without this module, so this never widens a privilege:
--   * origin is a component session (session.type == "component"),
--   * the VirtualHost's privileged_entities (the option mod_privilege reads, read here on
--     the same host) grants that component roster 'get' or 'both', AND mod_privilege
--     granted the session the same on this host (session.privileges[host].roster),
--   * the iq is addressed to a bare JID of this host with a node, its only child is the
--     roster <query/> with a ver attribute,
--   * the stored roster loaded without error and its version is a number.
-- The items are built exactly as mod_privilege builds them.
-- ---------------------------------------------------------------------------------------
local st = require "util.stanza";
local jid_split = require "util.jid".split;
local rm_load_roster = require "core.rostermanager".load_roster;

local ROSTER_NS = "jabber:iq:roster";
local ROSTER_GET = { get = true, both = true };
local ROSTER_PRIORITY = 10; -- above mod_privilege (0) and mod_roster (0)
local HOST = module.host;

local versioned_privileged_get = module:get_option_boolean("rpsync_versioned_privileged_roster", true);
local privileged_entities = module:get_option("privileged_entities", {});

-- The roster's version as a string, or nil when it is not a plain number (unversioned,
-- never saved, or broken: then we do not claim any version).
local function roster_version(roster)
	local meta = roster and roster[false];
	if type(meta) ~= "table" or meta.broken or type(meta.version) ~= "number" then return nil; end
	local version = math.tointeger(meta.version); -- a store may hand back 7.0 for 7
	return version and tostring(version) or nil;
end

-- mod_privilege's rendering of a roster (its iq-get/bare/jabber:iq:roster:query hook).
local function add_items(query_builder, roster)
	for entity_jid, item in pairs(roster) do
		if entity_jid and entity_jid ~= "pending" then
			query_builder:tag("item", {
				jid = entity_jid,
				subscription = item.subscription,
				ask = item.ask,
				name = item.name,
			});
			for group in pairs(item.groups or {}) do
				query_builder:tag("group"):text(group):up();
			end
			query_builder:up();
		end
	end
	return query_builder;
end

local function component_may_get_roster(session)
	if session.type ~= "component" or type(session.host) ~= "string" then return false; end
	local configured = type(privileged_entities) == "table" and privileged_entities[session.host];
	if type(configured) ~= "table" or not ROSTER_GET[configured.roster] then return false; end
	local granted = type(session.privileges) == "table" and session.privileges[HOST];
	return type(granted) == "table" and ROSTER_GET[granted.roster] == true;
end

local function on_privileged_roster_get(event)
	local origin, stanza = event.origin, event.stanza;
	if not versioned_privileged_get or event.to_self or stanza.attr.type ~= "get" then return nil; end
	local query = stanza.tags[1];
	if #stanza.tags ~= 1 or query.name ~= "query" or query.attr.xmlns ~= ROSTER_NS then return nil; end
	local client_ver = query.attr.ver;
	if client_ver == nil or not stanza.attr.to then return nil; end
	local node, host, resource = jid_split(stanza.attr.to);
	if not node or host ~= HOST or resource then return nil; end
	if not component_may_get_roster(origin) then return nil; end
	local roster = rm_load_roster(node, host);
	local version = roster_version(roster);
	if not version then return nil; end
	if client_ver == version then
		module:log("debug", "Privileged roster get from %s for %s@%s: unchanged at %s",
			origin.host, node, host, version);
		origin.send(st.reply(stanza));
		return true;
	end
	local reply = st.reply(stanza):query(ROSTER_NS);
	add_items(reply, roster);
	reply.tags[1].attr.ver = version;
	module:log("debug", "Privileged roster get from %s for %s@%s: full at %s (had %q)",
		origin.host, node, host, version, client_ver);
	origin.send(reply);
	return true;
end

module:hook("iq-get/bare/jabber:iq:roster:query", on_privileged_roster_get, ROSTER_PRIORITY);
