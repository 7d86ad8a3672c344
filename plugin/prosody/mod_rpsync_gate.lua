-- SPDX-License-Identifier: MIT
-- mod_rpsync_gate: skip the presence probes of an initial presence that follows a
-- successful rpsync (XEP "Roster Presence Synchronisation", section "Skipping the
-- Presence Flood"). Prosody 0.12. Two roster-versioning features follow at the end of
-- this file (versioned privileged roster get for the component; incremental roster for
-- the user's own clients), each with its own contract. Load it on the VirtualHost of the
-- users:
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
--   * The marker is removed from every presence a local client sends (of every type,
--     probes included; initial or not,
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

-- The same announcement as a stream feature after authentication,
-- <synced xmlns='urn:xmpp:rpsync:0'/> (36 bytes in every login's features), so that a
-- client need not ask disco#info (~450 bytes and a round trip) after each start.
-- Option rpsync_synced_stream_feature (default true).
if module:get_option_boolean("rpsync_synced_stream_feature", true) then
	module:hook("stream-features", function(event)
		local origin = event.origin; -- authenticated: "c2s_unbound" until bind, then "c2s"
		if (origin.type == "c2s_unbound" or origin.type == "c2s") and origin.username then
			event.features:tag(MARKER, { xmlns = NS }):up();
		end
	end);
end

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
	-- Stripped from every type (probe, subscription, error included) before anything else.
	local marked = stanza:get_child(MARKER, NS) ~= nil;
	if marked then stanza:remove_children(MARKER, NS); end
	if stanza.attr.type == "probe" then return gate_probe(event); end
	if not marked then return nil; end
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
-- No Nagle delay for the answer to a client's <sync/>.
--
-- With Prosody's default (Nagle on) the answer to <sync/> waits in the server's socket
-- until the client acknowledged the roster result written just before it: small segments,
-- and the client's kernel delays that ACK by up to ~40 ms. A c2s session that sends
-- <iq type='set'><sync xmlns='urn:xmpp:rpsync:0'/></iq> gets TCP_NODELAY on its connection
-- (one setsockopt per login; the answer and the rest of the login go out at once). Option
-- rpsync_sync_nodelay (default true); nothing changes when network_settings already turns
-- Nagle off.
-- ---------------------------------------------------------------------------------------
local sync_nodelay = module:get_option_boolean("rpsync_sync_nodelay", true);

local function on_sync_request(event)
	local origin, stanza = event.origin, event.stanza;
	if not sync_nodelay or origin.type ~= "c2s" or origin.rpsync_nodelay then return nil; end
	if stanza.attr.type ~= "set" or not stanza:get_child("sync", NS) then return nil; end
	origin.rpsync_nodelay = true;
	local conn = origin.conn;
	if conn and conn.setoption then
		conn:setoption("tcp-nodelay", true);
		module:log("debug", "TCP_NODELAY for %s (rpsync sync)", origin.full_jid);
	end
	return nil;
end
module:hook("pre-iq/host", on_sync_request, PRIORITY);

-- ---------------------------------------------------------------------------------------
-- Directed presence to a privileged component is withheld (XEP "Security Considerations").
--
-- mod_privilege forwards a user's broadcast (and a remote contact's presence to a local
-- user) as a clone whose 'to' is the component's JID, posted by the server itself
-- (module:send: origin = the host session, type "local"). A contact's directed presence
-- <presence to='rpsync.example.test'/> arrives at the component with the very same
-- from/to: the component cannot tell them apart from its stream. On the component's host
-- the two differ only by origin, so here, for every privileged entity of this host that
-- has a presence permission, available and unavailable presence addressed to it (or to
-- any JID at its domain) whose origin is a client, server-to-server or component session
-- is dropped.
-- What the server forwards under the privilege (origin "local", and mod_privilege's
-- session.send of current presence at connect, which fires no event) passes untouched.
-- ---------------------------------------------------------------------------------------
local STATE_TYPES = { available = true, unavailable = true };

local function withhold_directed(event)
	local origin, stanza = event.origin, event.stanza;
	if not STATE_TYPES[stanza.attr.type or "available"] then return nil; end
	if origin == nil or origin.type == "local" then return nil; end
	module:log("debug", "Withheld directed presence from %s to %s (not a forwarded broadcast)",
		tostring(stanza.attr.from), tostring(stanza.attr.to));
	return true;
end

local guarded_components = {};
local function guard_component(component)
	if guarded_components[component] or not prosody.hosts[component] then return; end
	guarded_components[component] = true;
	local there = module:context(component);
	for _, kind in ipairs({ "host", "bare", "full" }) do
		there:hook("presence/"..kind, withhold_directed, PRIORITY);
	end
	module:log("info", "Withholding directed presence to the privileged component %s", component);
end

local function presence_privileged_components()
	local list = {};
	for entity, perms in pairs(module:get_option("privileged_entities", {}) or {}) do
		if type(entity) == "string" and type(perms) == "table" and perms.presence
			and not entity:find("@", 1, true) then
			list[#list + 1] = entity;
		end
	end
	return list;
end

-- ---------------------------------------------------------------------------------------
-- Session report on component connect: <sessions-sent/> (XEP "Session Reports").
--
-- When a component authenticates, mod_privilege (loaded on the component's host, as it
-- must be for the privilege advertisement) runs, synchronously inside the component's
-- "component-authenticated" event (priority 0), every user host's on_auth, which for an
-- entity with a presence permission session.send()s the current presence of every full
-- session that has one (prosody.full_sessions: every host's) and then records
-- session.privileges[host]. A hook on that event at a lower priority therefore runs once
-- that re-send is queued on the component's stream, in order, before anything else. Here,
-- for each host with this module, it sends
--   <message from='HOST' to='COMPONENT'><sessions-sent xmlns='urn:xmpp:rpsync:0'/></message>
-- when mod_privilege granted the session a presence permission on HOST (so the re-send ran
-- for it), and nothing otherwise: without the message the component cannot prove its view
-- and keeps failing keys from before its gap. The message is sent on the session itself,
-- behind the re-sent presence. Option rpsync_sessions_sent (default true).
-- ---------------------------------------------------------------------------------------
local sessions_sent_enabled = module:get_option_boolean("rpsync_sessions_sent", true);
local PRESENCE_PERMS = { roster = true, managed_entity = true };
local st_stanza = require "util.stanza";

local function send_sessions_sent(component, event)
	local session = event.session;
	local granted = session and session.privileges and session.privileges[module.host];
	if not (granted and PRESENCE_PERMS[granted.presence]) then
		module:log("debug", "No presence privilege on %s: no <sessions-sent/>", module.host);
		return nil;
	end
	session.send(st_stanza.message({ from = module.host, to = component })
		:tag("sessions-sent", { xmlns = NS }):up());
	module:log("info", "Sent <sessions-sent/> to %s after the re-send of current presence", component);
	return nil;
end

local reporting_components = {};
local function report_to_component(component)
	if not sessions_sent_enabled or reporting_components[component] then return; end
	if not prosody.hosts[component] then return; end
	reporting_components[component] = true;
	module:context(component):hook("component-authenticated", function(event)
		return send_sessions_sent(component, event);
	end, -10);
end

local function watch_component(component)
	guard_component(component);
	report_to_component(component);
end

for _, component in ipairs(presence_privileged_components()) do watch_component(component); end
module:hook_global("host-activated", function(activated)
	for _, component in ipairs(presence_privileged_components()) do
		if component == activated then watch_component(component); end
	end
end);

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
-- The items are built exactly as mod_privilege builds them, less the contacts whose
-- presence the server withholds from the user (blocking, below). When some are withheld,
-- a get without ver (or for an unversioned roster) is answered here too, without ver and
-- without them, so no privileged component with roster access learns a presence
-- relation the user would not see; when none are, it is mod_privilege's as before.
-- ---------------------------------------------------------------------------------------
local st = require "util.stanza";
local jid_split = require "util.jid".split;
local rm_load_roster = require "core.rostermanager".load_roster;
local rm_save_roster = require "core.rostermanager".save_roster;
local new_token = require "util.id".medium;

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
local function add_items(query_builder, roster, withheld)
	for entity_jid, item in pairs(roster) do
		if entity_jid and entity_jid ~= "pending" and not (withheld and withheld[entity_jid]) then
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

-- Presence the server withholds per recipient (XEP-0191 blocking, mod_blocklist): a
-- contact the user blocks (mod_blocklist drops what he sends her) or who blocks the user
-- (his broadcasts and the answers to her probes are dropped) shows her nothing at login,
-- so the component must not show him either. These contacts are left out of the roster
-- the component is given (both answers below); the versioned answer's version ends with a
-- hash of the set, so blocking or unblocking makes the cached version stale. Only local
-- blocklists are known: a remote server's decisions are not (XEP "Privacy").
local sha1_hex = function(s) return require "util.hashes".sha1(s, true); end
-- Blocklists are read from mod_blocklist's storage and kept in an LRU of
-- rpsync_blocklist_cache_users (10000) users, including "has none"; an entry is dropped
-- when its user sends a block or unblock (before mod_blocklist saves the edit, in the same
-- event) and when the account is deleted.
local blocklist_cache = require "util.cache".new(
	module:get_option_number("rpsync_blocklist_cache_users", 10000));
local blocklist_stores = {};

local function forget_blocklist(event)
	local origin = event.origin;
	if origin and origin.username then blocklist_cache:set(origin.username.."@"..origin.host, nil); end
end

local function blocklist_store(host)
	local store = blocklist_stores[host];
	if store then return store; end
	local there = module:context(host);
	store = there:open_store("blocklist");
	blocklist_stores[host] = store;
	there:hook("iq-set/self/urn:xmpp:blocking:block", forget_blocklist, 10);
	there:hook("iq-set/self/urn:xmpp:blocking:unblock", forget_blocklist, 10);
	return store;
end

module:hook_global("user-deleted", function(event)
	blocklist_cache:set(event.username.."@"..event.host, nil);
end);

local function blocklist_of(username, host)
	local h = prosody.hosts[host];
	if not (h and h.modules and h.modules.blocklist) then return nil; end
	local key = username.."@"..host;
	local cached = blocklist_cache:get(key);
	if cached ~= nil then return cached or nil; end
	local list, err = blocklist_store(host):get(username);
	if err then
		module:log("warn", "Cannot read the blocklist of %s: %s", key, tostring(err));
		return nil;
	end
	blocklist_cache:set(key, list or false);
	return list;
end

-- mod_blocklist's rule: the full JID, the domain or the bare JID is on the list.
local function blocks(list, jid)
	if type(list) ~= "table" then return false; end
	if list[jid] then return true; end
	local node, host = jid_split(jid);
	return (list[host] or (node and list[node.."@"..host])) and true or false;
end

-- The set of visible contacts whose presence the server withholds from node@HOST, and a
-- token naming that set (nil when it is empty).
local function withheld_contacts(node, roster)
	local user = node.."@"..HOST;
	local own = blocklist_of(node, HOST);
	local set, list = {}, {};
	for contact, item in pairs(roster or {}) do
		if contact and (item.subscription == "both" or item.subscription == "to") then
			local c_node, c_host = jid_split(contact);
			if blocks(own, contact) or (c_node and blocks(blocklist_of(c_node, c_host), user)) then
				set[contact] = true;
				list[#list + 1] = contact;
			end
		end
	end
	if #list == 0 then return nil, nil; end
	table.sort(list);
	return set, sha1_hex(table.concat(list, "\0")):sub(1, 16);
end

-- The roster without version (the server's roster is unversioned, or the get quoted none),
-- answered here only when something is withheld; otherwise mod_privilege answers.
local function answer_unversioned(origin, stanza, roster, withheld)
	if not withheld then return nil; end
	origin.send(add_items(st.reply(stanza):query(ROSTER_NS), roster, withheld));
	return true;
end

local function on_privileged_roster_get(event)
	local origin, stanza = event.origin, event.stanza;
	if event.to_self or stanza.attr.type ~= "get" then return nil; end
	local query = stanza.tags[1];
	if #stanza.tags ~= 1 or query.name ~= "query" or query.attr.xmlns ~= ROSTER_NS then return nil; end
	local client_ver = query.attr.ver;
	if not stanza.attr.to then return nil; end
	local node, host, resource = jid_split(stanza.attr.to);
	if not node or host ~= HOST or resource then return nil; end
	if not component_may_get_roster(origin) then return nil; end
	local roster = rm_load_roster(node, host);
	local withheld, token = withheld_contacts(node, roster);
	if client_ver == nil or not versioned_privileged_get then
		return answer_unversioned(origin, stanza, roster, withheld);
	end
	local version = roster_version(roster);
	if not version then return answer_unversioned(origin, stanza, roster, withheld); end
	-- Prosody restarts a roster's versions at 1 when an account is deleted and created
	-- again, so a component still holding "7" from the old account would be told
	-- "unchanged" and use the old account's contacts. The version we hand out is therefore
	-- prefixed with a random token kept in the roster's own metadata, which is deleted with
	-- the account's data (also by prosodyctl while Prosody is down).
	local meta = roster[false];
	if type(meta.rpsync_incarnation) ~= "string" then
		meta.rpsync_incarnation = new_token();
		if not rm_save_roster(node, host, roster) then
			meta.rpsync_incarnation = nil;
			return answer_unversioned(origin, stanza, roster, withheld);
		end
		version = roster_version(roster); -- saving raised it
		if not version then return answer_unversioned(origin, stanza, roster, withheld); end
	end
	version = meta.rpsync_incarnation.."-"..version..(token and ("-w"..token) or "");
	if client_ver == version then
		module:log("debug", "Privileged roster get from %s for %s@%s: unchanged at %s",
			origin.host, node, host, version);
		origin.send(st.reply(stanza));
		return true;
	end
	local reply = st.reply(stanza):query(ROSTER_NS);
	add_items(reply, roster, withheld);
	reply.tags[1].attr.ver = version;
	module:log("debug", "Privileged roster get from %s for %s@%s: full at %s (had %q)",
		origin.host, node, host, version, client_ver);
	origin.send(reply);
	return true;
end

module:hook("iq-get/bare/jabber:iq:roster:query", on_privileged_roster_get, ROSTER_PRIORITY);

-- ---------------------------------------------------------------------------------------
-- Incremental roster for the user's own clients (RFC 6121 §2.6.3, second option).
--
-- Prosody 0.12's mod_roster answers a stale ver with the full roster. When we can prove
-- what changed, we answer a client's own roster get (iq/self, c2s session, ver = a
-- decimal version older than the current one) with an empty result followed by one
-- roster push per added, changed or removed item. The last push carries the current
-- version; the others carry "<current>-partial-<n>", which no client can mistake for a
-- version (mod_roster and this module treat it as unknown -> full roster), so a client
-- cut off mid-way gets the full roster next time.
--
-- Proof: per user we keep fingerprints (SHA-1 of subscription, ask, name, groups: what
-- mod_roster shows a client) of the roster at versions a client was actually given: a
-- roster result or push with ver leaving for a c2s session of that user (session filter
-- "stanzas/out"), or a get whose ver equals the current version. A fingerprint set is
-- recorded only if roster[false].version equals the ver at that very moment, so it is the
-- roster the client holds for that ver. Diff = current roster vs that set.
-- Anything else returns nil and mod_roster answers as before: no snapshot for the ver
-- (e.g. after a restart or eviction), ver not a decimal, ver equal to the current version
-- (mod_roster's empty result), an unversioned or broken roster, or a diff bigger than
-- half of the roster (the full roster is then smaller than the pushes).
-- Bounds: at most rpsync_roster_snapshot_versions (4) snapshots per user, users in an
-- LRU of rpsync_roster_snapshot_users (1000), rosters over rpsync_roster_snapshot_items
-- (5000) items are never snapshotted, and all snapshots together stay under
-- rpsync_roster_snapshot_memory bytes (16 MiB; least recently used users are dropped).
-- ---------------------------------------------------------------------------------------
local filters = require "util.filters";
local new_cache = require "util.cache".new;
local sha1 = require "util.hashes".sha1;
local new_id = require "util.id".short;

local incremental = module:get_option_boolean("rpsync_incremental_roster", true);
local max_users = module:get_option_number("rpsync_roster_snapshot_users", 1000);
local max_versions = module:get_option_number("rpsync_roster_snapshot_versions", 4);
local max_items = module:get_option_number("rpsync_roster_snapshot_items", 5000);
local max_bytes = module:get_option_number("rpsync_roster_snapshot_memory", 16 * 1024 * 1024);
local FP_LEN = 20; -- binary SHA-1
local FILTER_PRIORITY = -1000; -- after every other stanzas/out filter (they may drop)

-- XML forbids U+0000..U+0008, so neither separator can occur in a JID, name or group.
local function item_fingerprint(item)
	local groups = {};
	for group in pairs(item.groups or {}) do groups[#groups + 1] = group; end
	table.sort(groups);
	return sha1(table.concat({
		item.subscription or "none", item.ask or "\2", item.name or "\2", table.concat(groups, "\1"),
	}, "\0"));
end

-- One string per snapshot: JID "\0" fingerprint, repeated (cheap to keep, one GC object).
local function encode_roster(roster)
	local parts, n = {}, 0;
	for jid, item in pairs(roster) do
		if jid then -- same items as mod_roster's result
			n = n + 1;
			if n > max_items then return nil; end
			parts[n] = jid.."\0"..item_fingerprint(item);
		end
	end
	return table.concat(parts);
end

local function decode_roster(blob)
	local items, pos, len = {}, 1, #blob;
	while pos <= len do
		local z = blob:find("\0", pos, true);
		if not z or z + FP_LEN > len then return nil; end
		items[blob:sub(pos, z - 1)] = blob:sub(z + 1, z + FP_LEN);
		pos = z + FP_LEN + 1;
	end
	return items;
end

local total_bytes = 0;
-- username -> { versions = { [ver] = blob }, order = { oldest ver first }, bytes = n }
local snapshots = new_cache(max_users, function(_, entry)
	total_bytes = total_bytes - entry.bytes;
end);

local function record_snapshot(username, roster, version)
	local entry = snapshots:get(username);
	if entry and entry.versions[version] then
		snapshots:set(username, entry); -- most recently used
		return;
	end
	local blob = encode_roster(roster);
	if not blob then return; end
	entry = entry or { versions = {}, order = {}, bytes = 0 };
	entry.versions[version] = blob;
	entry.order[#entry.order + 1] = version;
	entry.bytes = entry.bytes + #blob;
	total_bytes = total_bytes + #blob;
	while #entry.order > max_versions do
		local old = table.remove(entry.order, 1);
		local old_bytes = #entry.versions[old];
		entry.versions[old] = nil;
		entry.bytes = entry.bytes - old_bytes;
		total_bytes = total_bytes - old_bytes;
	end
	snapshots:set(username, entry);
	while total_bytes > max_bytes do
		local lru_user, lru_entry = snapshots:tail();
		if lru_user == nil or lru_user == username then break; end
		snapshots:set(lru_user, nil); -- no on_evict on explicit removal
		total_bytes = total_bytes - lru_entry.bytes;
	end
	module:log("debug", "Roster snapshot for %s at version %s (%d bytes, %d users, %d bytes total)",
		username, version, #blob, snapshots:count(), total_bytes);
end

local function forget_user(username)
	local entry = snapshots:get(username);
	if entry then
		snapshots:set(username, nil);
		total_bytes = total_bytes - entry.bytes;
	end
end

-- Records the roster a c2s session is being given (result or push carrying ver).
local function roster_out_filter(stanza, session)
	if not incremental or stanza.name ~= "iq" then return stanza; end
	local t = stanza.attr.type;
	if t ~= "result" and t ~= "set" then return stanza; end
	local query = stanza.tags[1];
	if not query or query.name ~= "query" or query.attr.xmlns ~= ROSTER_NS or query.attr.ver == nil then
		return stanza;
	end
	local roster = session.roster;
	local version = session.username and roster_version(roster);
	if version and tostring(query.attr.ver) == version then
		record_snapshot(session.username, roster, version);
	end
	return stanza;
end

-- ---------------------------------------------------------------------------------------
-- mod_privilege's empty advertisement to clients is withheld.
--
-- mod_privilege (prosody-modules) sends every c2s session, on its initial presence, the
-- message <message from=HOST to=FULLJID><privilege xmlns='urn:xmpp:privilege:2'/></message>
-- advertising the privileges configured for that entity. For a user's client nothing is
-- configured and the element is empty: it grants nothing, and a client that ignores it
-- (every client: XEP-0356 privileges are for components, and an entity without the
-- message has no privileges either) behaves the same. A client for which
-- privileged_entities does list something still gets its message: only a message from
-- this host whose single child is an empty <privilege/> of namespace :2 or :1 is dropped.
-- Option rpsync_withhold_empty_privilege (default true) turns it off.
-- ---------------------------------------------------------------------------------------
local withhold_privilege = module:get_option_boolean("rpsync_withhold_empty_privilege", true);
local PRIVILEGE_NS = { ["urn:xmpp:privilege:2"] = true, ["urn:xmpp:privilege:1"] = true };

local function privilege_out_filter(stanza)
	if not withhold_privilege or stanza.name ~= "message" or stanza.attr.from ~= HOST
		or #stanza.tags ~= 1 then
		return stanza;
	end
	local child = stanza.tags[1];
	if child.name ~= "privilege" or not PRIVILEGE_NS[child.attr.xmlns] or #child ~= 0 then
		return stanza;
	end
	return nil;
end

-- ---------------------------------------------------------------------------------------
-- Confirmation of a marked initial presence (XEP "Skipping the Presence Flood").
--
-- A delta describes the component's state when it answered the sync; contact presence
-- reaches the session only once its initial presence is processed. In between the client
-- would miss a change, so it verifies with a checkpoint -- unless the server confirms that
-- nothing reached the user in between. The server can: every presence addressed to the
-- user passes its router, and the component reads, in order, every presence mod_privilege
-- forwarded to it before the sync request, which the server routes on the same stream.
--
--   * A session's window opens when it sends its first <sync/> (type set), before its
--     initial presence, to a component of this server that this host grants a presence
--     privilege.
--   * The window is dirty once the server routes any presence other than a probe to the
--     user's bare JID (contacts' broadcasts, remote contacts through s2s, subscription
--     requests) or to the session's own full JID (directed presence), or when her roster
--     differs from the one at the opening. Her other resources' presence does not count:
--     mod_presence sends their current presence to the session after its initial presence.
--   * When the session's marked initial presence (see above) is processed with a clean
--     window, the reflection of that presence to the session alone carries
--       <synced xmlns='urn:xmpp:rpsync:0'/>
--     (a copy: contacts, other resources and the stored presence never see it). The window
--     closes with the initial presence, marked or not.
-- A client that sees the element on the reflection of its own initial presence skips the
-- checkpoint; without it (an unclean window, an older gate) it verifies as before.
-- Option rpsync_confirm_synced (default true).
-- ---------------------------------------------------------------------------------------
local confirm_synced = module:get_option_boolean("rpsync_confirm_synced", true);

local function privileged_component(to)
	local host = to and prosody.hosts[to];
	if not host or host.type ~= "component" then return false; end
	for _, entity in ipairs(presence_privileged_components()) do
		if entity == to then return true; end
	end
	return false;
end

-- What identifies the roster's state: its version, "never saved" for a roster that has
-- none yet (saving one sets it), and nil when changes cannot be told (unversioned, broken).
local function roster_stamp(roster)
	local meta = roster and roster[false];
	if type(meta) ~= "table" or meta.broken then return nil; end
	if meta.version == nil then return "never saved"; end
	return roster_version(roster);
end

local function open_window(event)
	local origin, stanza = event.origin, event.stanza;
	if not confirm_synced or origin.type ~= "c2s" or origin.presence or origin.rpsync_window then
		return nil;
	end
	if stanza.attr.type ~= "set" or not stanza:get_child("sync", NS) then return nil; end
	if not privileged_component(stanza.attr.to) then return nil; end
	origin.rpsync_window = { roster = roster_stamp(origin.roster) };
	return nil;
end
module:hook("pre-iq/host", open_window, PRIORITY + 1);

local function dirty_windows(event)
	local stanza = event.stanza;
	if stanza.attr.type == "probe" then return nil; end
	local node, host, resource = jid_split(stanza.attr.to);
	local user = node and host == HOST and prosody.bare_sessions[node.."@"..host];
	for name, session in pairs(user and user.sessions or {}) do
		if session.rpsync_window and (resource == nil or resource == name) then
			session.rpsync_window.dirty = true;
		end
	end
	return nil;
end
module:hook("presence/bare", dirty_windows, PRIORITY + 1);
module:hook("presence/full", dirty_windows, PRIORITY + 1);

-- Runs before mod_presence reflects the presence (pre-presence, after the marker hook).
local function close_window(event)
	local origin, stanza = event.origin, event.stanza;
	local window = origin.rpsync_window;
	if not window or origin.type ~= "c2s" or stanza.attr.type ~= nil or stanza.attr.to ~= nil
		or origin.presence ~= nil then
		return nil;
	end
	origin.rpsync_window = nil;
	if origin.rpsync_gate_marked ~= stanza or window.dirty then return nil; end
	local stamp = roster_stamp(origin.roster);
	if stamp == nil or stamp ~= window.roster then return nil; end
	origin.rpsync_confirm = stanza;
	return nil;
end
module:hook("pre-presence/bare", close_window, PRIORITY - 1);
module:hook("pre-presence/host", close_window, PRIORITY - 1);

-- The reflection is origin.send(stanza) with the very object of the initial presence.
local function confirm_out_filter(stanza, session)
	local marked = session.rpsync_confirm;
	if marked == nil or stanza ~= marked then return stanza; end
	session.rpsync_confirm = nil;
	local copy = st.clone(stanza);
	copy:tag(MARKER, { xmlns = NS }):up();
	module:log("debug", "Confirmed the synced state of %s on its reflection", session.full_jid);
	return copy;
end

-- A confirmation never outlives the initial presence's event-loop turn.
module:hook("presence/initial", function(event)
	local origin = event.origin;
	if origin.rpsync_confirm ~= nil then
		module:add_timer(0, function() origin.rpsync_confirm = nil; end);
	end
	return nil;
end, PRIORITY - 2);

local filtered_sessions = setmetatable({}, { __mode = "k" });
local function watch_session(session)
	if session.type == "c2s" and not filtered_sessions[session] then
		filters.add_filter(session, "stanzas/out", roster_out_filter, FILTER_PRIORITY);
		filters.add_filter(session, "stanzas/out", privilege_out_filter, FILTER_PRIORITY);
		filters.add_filter(session, "stanzas/out", confirm_out_filter, FILTER_PRIORITY);
		filtered_sessions[session] = true;
	end
end

module:hook("resource-bind", function(event) watch_session(event.session); end);
for _, user in pairs(prosody.hosts[HOST] and prosody.hosts[HOST].sessions or {}) do
	for _, session in pairs(user.sessions or {}) do watch_session(session); end
end
function module.unload()
	for session in pairs(filtered_sessions) do
		filters.remove_filter(session, "stanzas/out", roster_out_filter);
		filters.remove_filter(session, "stanzas/out", privilege_out_filter);
		filters.remove_filter(session, "stanzas/out", confirm_out_filter);
	end
end

-- A re-created account starts its versions again: old snapshots would lie.
module:hook_global("user-deleted", function(event)
	if event.host == HOST then forget_user(event.username); end
end);

local function roster_push_stanza(jid, item, ver)
	local push = st.iq({ type = "set", id = new_id() }):tag("query", { xmlns = ROSTER_NS, ver = ver });
	if item then
		push:tag("item", { jid = jid, subscription = item.subscription, name = item.name, ask = item.ask });
		for group in pairs(item.groups or {}) do push:text_tag("group", group); end
		push:up();
	else
		push:tag("item", { jid = jid, subscription = "remove" }):up();
	end
	return push:up();
end

local function on_client_roster_get(event)
	local origin, stanza = event.origin, event.stanza;
	if not incremental or stanza.attr.type ~= "get" or origin.type ~= "c2s" or not origin.username then
		return nil;
	end
	local query = stanza.tags[1];
	local client_ver = query and query.attr.ver;
	if type(client_ver) ~= "string" or not client_ver:match("^%d+$") then return nil; end
	local roster = origin.roster;
	local version = roster_version(roster);
	if not version then return nil; end
	if client_ver == version then
		-- mod_roster sends the empty result; the client holds this version from now on.
		record_snapshot(origin.username, roster, version);
		return nil;
	end
	local entry = snapshots:get(origin.username);
	local old = entry and entry.versions[client_ver] and decode_roster(entry.versions[client_ver]);
	if not old then return nil; end
	local changes, count = {}, 0;
	for jid, item in pairs(roster) do
		if jid then
			count = count + 1;
			if old[jid] ~= item_fingerprint(item) then changes[#changes + 1] = jid; end
			old[jid] = nil;
		end
	end
	for jid in pairs(old) do changes[#changes + 1] = jid; end
	table.sort(changes);
	if #changes == 0 then
		-- Only invisible data changed (pending requests, pre-approvals): re-push one
		-- unchanged item so that the client learns the current version.
		local first = next(roster, nil);
		if first == false then first = next(roster, first); end
		if first == nil then return nil; end
		changes[1] = first;
	end
	if #changes * 2 > count then return nil; end
	origin.send(st.reply(stanza));
	for i, jid in ipairs(changes) do
		local ver = i == #changes and version or (version.."-partial-"..i);
		origin.send(roster_push_stanza(jid, roster[jid], ver));
	end
	origin.interested = true; -- like mod_roster: this resource wants roster pushes
	snapshots:set(origin.username, entry); -- most recently used
	module:log("debug", "Incremental roster for %s: %s -> %s in %d pushes", origin.full_jid,
		client_ver, version, #changes);
	return true;
end

module:hook("iq/self/jabber:iq:roster:query", on_client_roster_get, ROSTER_PRIORITY);

-- ---------------------------------------------------------------------------------------
-- Metrics (Prosody 0.12's module:metric, OpenMetrics through mod_http_openmetrics).
--
-- Counters, each labelled with the host like every host-scoped Prosody metric:
--   prosody_mod_rpsync_gate/marked_presences          presences carrying the synced marker
--   prosody_mod_rpsync_gate/probes_skipped            probes the gate set out to drop
--   prosody_mod_rpsync_gate/versioned_rosters_served  versioned privileged roster gets the
--                                                     gate answered (unchanged or full)
-- They only observe: separate hooks around the gate's own (above), which decide nothing
-- here. marked: before the marker is stripped (priority above the gate's). probes: after
-- the gate's "presence/initial" handler, the size of the probe set it keeps for the
-- session. rosters: an event wrapper sees whether the gate answered (a hook below the
-- gate's priority runs only when it did not). Where module:metric is missing (before
-- 0.12) the counters are no-ops and the module loads as before.
-- ---------------------------------------------------------------------------------------
local noop_counter = { add = function() end };
local function counter(name, description, labels)
	if type(module.metric) ~= "function" then return function() return noop_counter; end; end
	local ok, family = pcall(module.metric, module, "counter", name, "", description, labels or {});
	if not ok or not family then
		module:log("warn", "metric %s unavailable: %s", name, tostring(family));
		return function() return noop_counter; end;
	end
	return function(...) return family:with_labels(...); end;
end

local marked_presences = counter("marked_presences",
	"Presences from local clients carrying the rpsync synced marker");
local probes_skipped = counter("probes_skipped",
	"Presence probes skipped for clients that had just synchronised");
local rosters_served = counter("versioned_rosters_served",
	"Versioned privileged roster gets answered by the gate");

local function count_marked(event)
	local origin, stanza = event.origin, event.stanza;
	if origin.type == "c2s" and stanza.attr.type ~= "probe" and stanza:get_child(MARKER, NS) then
		marked_presences():add(1);
	end
	return nil;
end
module:hook("pre-presence/bare", count_marked, PRIORITY + 1);
module:hook("pre-presence/full", count_marked, PRIORITY + 1);
module:hook("pre-presence/host", count_marked, PRIORITY + 1);

module:hook("presence/initial", function(event)
	local pending = event.origin.rpsync_gate_probes;
	if type(pending) ~= "table" then return nil; end
	local n = 0;
	for _ in pairs(pending) do n = n + 1; end
	if n > 0 then probes_skipped():add(n); end
	return nil;
end, PRIORITY - 1);

local ROSTER_GET_EVENT = "iq-get/bare/jabber:iq:roster:query";
module:hook(ROSTER_GET_EVENT, function(event)
	event.rpsync_gate_passed = true; -- the gate (priority ROSTER_PRIORITY) did not answer
	return nil;
end, ROSTER_PRIORITY - 1);
module:wrap_event(ROSTER_GET_EVENT, function(handlers, event_name, event)
	local ret = handlers(event_name, event);
	local query = event.stanza.tags[1];
	if ret and not event.rpsync_gate_passed and event.origin.type == "component"
		and query and query.attr.ver ~= nil then
		rosters_served():add(1);
	end
	return ret;
end);
