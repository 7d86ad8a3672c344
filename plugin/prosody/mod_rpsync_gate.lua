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
