// Pulse dashboard. It holds one credential, the signed-in user's personal access token, in
// sessionStorage (this tab only), and sends it to this origin's API; nothing else is stored.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;
  const num = new Intl.NumberFormat();
  const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const clock = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  let tenantZone = "UTC";
  let perms = new Set(); // what the signed-in user's roles allow (GET /api/permissions)
  // The permission each view needs: a view the user may not use is not shown at all.
  const needs = {
    active: "view-active-users", activity: "view-engagement-dashboard",
    hours: "view-engagement-dashboard", sessions: "view-user-sessions",
  };
  let active = [];
  // The active list is read a page at a time: PAGE sessions from offset activeOffset.
  const PAGE = 50;
  let activeOffset = 0, activeTotal = 0, paused = false;
  let searching = null, searchGen = 0, searchTimer = null; // the search shown in the active table (see runSearch)
  let refresh = null;
  const charts = {}; // uPlot instances by container ID
  // Every request belongs to a sign-in: signing out (or being signed out) starts a new one, aborts
  // what is in flight and drops any answer that still arrives, so that nothing of one user is
  // ever drawn for the next.
  let generation = 0;
  let inflight = new AbortController();
  // How long a request may take before the page gives up on it and says so.
  const REQUEST_TIMEOUT_MS = 15000;

  // --- credentials and requests -------------------------------------------------------------

  function creds() {
    const user = store.getItem("pulse.user"), token = store.getItem("pulse.token");
    return user && token ? { user, token } : null;
  }

  class APIError extends Error {
    constructor(status, message, kind) { super(message); this.status = status; this.kind = kind || ""; }
  }

  // api calls this origin with the token and returns {resp, body}: the body read as JSON (null
  // when there is none), or as a Blob with opts.blob. An error carries the surface's own message.
  // A request that takes longer than REQUEST_TIMEOUT_MS, body included, is abandoned (kind
  // "timeout"); one that belongs to an earlier sign-in is dropped (kind "stale"), never shown.
  async function api(path, opts = {}) {
    const c = creds();
    if (!c) throw new APIError(401, "Not signed in.");
    const gen = generation;
    const headers = Object.assign({ "X-User-Id": c.user, "X-Auth-Token": c.token, Accept: "application/json" }, opts.headers || {});
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), REQUEST_TIMEOUT_MS);
    const signal = AbortSignal.any([timer.signal, inflight.signal]);
    let resp, body;
    try {
      resp = await fetch(path, { method: opts.method || "GET", headers, cache: "no-store", signal });
      body = await (opts.blob && resp.ok ? resp.blob() : resp.json().catch(() => null));
    } catch (e) {
      if (gen !== generation) throw new APIError(0, "", "stale");
      if (timer.signal.aborted) {
        throw new APIError(0, "Pulse did not answer within " + REQUEST_TIMEOUT_MS / 1000 + " s. " +
          (opts.method === "DELETE" ? "The revoke may or may not have been applied: retry, or refresh to see." : "Retry in a moment."), "timeout");
      }
      throw new APIError(0, "Pulse cannot be reached: check the network, then retry.");
    } finally {
      clearTimeout(timeout);
    }
    if (gen !== generation) throw new APIError(0, "", "stale");
    if (resp.ok) return { resp, body };
    const detail = body ? body.detail || body.error || body.message || "" : "";
    const e = new APIError(resp.status, detail || resp.statusText);
    e.errors = body && body.errors; // a 422's fields, as {"ip": ["must be …"]}
    throw e;
  }

  // fieldProblems words a 422's field errors, as "ip must be an IP address…; limit must be…".
  function fieldProblems(err) {
    return Object.entries(err.errors).map(([k, v]) => k + " " + v.join(" ")).join("; ");
  }

  // explain turns an API error into what to do about it.
  function explain(err) {
    if (err.status === 401) {
      return "Your user ID or token was refused (wrong, revoked or expired). Sign in again with a valid token.";
    }
    if (err.status === 403) {
      const perm = /(view-[a-z-]+|revoke-sessions)/.exec(err.message);
      return "Your roles lack " + (perm ? "the " + perm[1] + " permission" : "a permission") +
        " for this view. An operator can grant it: pulse tenant grant -tenant TENANT -role ROLE -permission " + (perm ? perm[1] : "…") + ".";
    }
    if (err.status === 404) return err.message || "Not found.";
    if (err.status === 0) return err.message;
    return (err.message || "Something went wrong") + " (HTTP " + err.status + "). Retry in a moment.";
  }

  // status says what a view is doing or what went wrong; with retry, a button to try again.
  function status(id, text, isError, retry) {
    const el = $(id);
    el.textContent = text || "";
    el.classList.toggle("error", !!isError);
    if (retry) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "retry";
      b.textContent = "Retry";
      b.addEventListener("click", () => { status(id, ""); retry(); });
      el.append(" ", b);
    }
  }

  // --- sign-in -------------------------------------------------------------------------------

  function today(zone) {
    return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  }

  function addDays(day, n) {
    const d = new Date(day + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }

  async function signIn(user, token) {
    store.setItem("pulse.user", user);
    store.setItem("pulse.token", token);
    // The first call proves the token and says what the user's roles allow; the page then
    // shows only those views.
    const { body } = await api("/api/permissions");
    perms = new Set((body && body.permissions) || []);
    // The tenant's time zone (the days of the charts), from a day that is past in every zone.
    if (perms.has("view-engagement-dashboard")) {
      const d = addDays(today("UTC"), -2);
      const zone = await api("/api/analytics/active-users?start=" + d + "&end=" + d);
      tenantZone = (zone.body && zone.body.timeZone) || "UTC";
    }
  }

  // clearViews empties every view and every answer the page holds: what one user saw is gone
  // before anyone else signs in.
  function clearViews() {
    active = [];
    perms = new Set();
    $("active-table").tBodies[0].replaceChildren();
    $("sessions-table").tBodies[0].replaceChildren();
    $("sessions-table").hidden = true;
    for (const id of ["sessions-prev", "sessions-next", "sessions-revoke-all", "sessions-confirm"]) $(id).hidden = true;
    $("sessions-range").textContent = "";
    $("heatmap").replaceChildren();
    $("heatmap-scale").replaceChildren();
    clearCharts();
    for (const id of ["active-count", "active-updated", "zones", "who", "perm-note", "active-range"]) $(id).textContent = "";
    activeOffset = activeTotal = 0;
    searching = null;
    searchGen++;
    clearTimeout(searchTimer);
    $("active-search-more").hidden = $("active-revoke-matching").hidden = $("active-confirm").hidden = true;
    for (const id of ["active-filter", "sessions-user", "user-id", "token"]) $(id).value = "";
    $("range").value = "30";
    $("active-search-in").value = "0";
    $("custom-range").hidden = true;
    $("range-start").value = $("range-end").value = "";
    for (const id of ["active-status", "activity-status", "hours-status", "sessions-status"]) status(id, "");
  }

  function signOut(message) {
    store.removeItem("pulse.user");
    store.removeItem("pulse.token");
    if (refresh) clearInterval(refresh);
    generation++;
    inflight.abort();
    inflight = new AbortController();
    clearViews();
    $("app").hidden = true;
    $("who").hidden = $("signout").hidden = true;
    $("signin").hidden = false;
    status("signin-error", message, true);
    $("signin-error").hidden = !message;
  }

  async function start() {
    const c = creds();
    $("signin").hidden = true;
    $("app").hidden = false;
    $("who").hidden = $("signout").hidden = false;
    $("who").textContent = "Signed in as " + c.user;
    $("zones").textContent = "Times are in your time zone (" + browserZone + ")" +
      (perms.has("view-engagement-dashboard") ? "; days are the tenant's (" + tenantZone + ")." : ".");
    const may = (view) => perms.has(needs[view]);
    for (const view of Object.keys(needs)) {
      $(view).hidden = !may(view);
      document.querySelector('.tabs a[data-view="' + view + '"]').hidden = !may(view);
    }
    const missing = [...new Set(Object.values(needs).concat("revoke-sessions"))].filter((p) => !perms.has(p));
    $("perm-note").textContent = !Object.keys(needs).some(may)
      ? "Your roles hold none of the dashboard's permissions (" + missing.join(", ") + "). An operator can grant them: pulse tenant grant -tenant TENANT -role ROLE -permission PERMISSION."
      : missing.length ? "Your roles lack " + missing.join(", ") + ": what needs them is not shown." : "";
    if (refresh) clearInterval(refresh);
    if (may("active")) {
      loadActive();
      refresh = setInterval(() => { if (!paused) loadActive(); }, 30000);
    }
    if (may("activity")) {
      loadActivity();
      loadHours();
    }
    route();
  }

  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = ev.target.querySelector("button");
    button.disabled = true;
    status("signin-error", "");
    $("signin-error").hidden = true;
    try {
      await signIn($("user-id").value.trim(), $("token").value.trim());
      $("token").value = "";
      await start();
    } catch (err) {
      signOut(err.status === 401 ? "That user ID and token do not match a valid token. Check both and try again." : explain(err));
    } finally {
      button.disabled = false;
    }
  });
  $("signout").addEventListener("click", () => signOut(""));

  // failed handles an error of a view: a refused token ends the session everywhere; an answer
  // for an earlier sign-in is dropped; anything else is said in the view, with a retry.
  function failed(view, err, retry) {
    if (err.kind === "stale") return;
    if (err.status === 401) { signOut(explain(err)); return; }
    status(view, explain(err), true, retry);
  }

  // --- active now ----------------------------------------------------------------------------

  function duration(seconds) {
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
    return h > 0 ? h + " h " + m + " min" : m + " min";
  }

  // activeLoad numbers the active list's loads (the refresh, the pager, a cleared search): an
  // answer that comes after a later load began, or after a search began, is dropped.
  let activeLoad = 0;
  async function loadActive() {
    if (searching) return; // the rows are a search's answer until the box is cleared
    const mine = ++activeLoad;
    if (!active.length) status("active-status", "Loading active sessions…");
    try {
      const { resp, body } = await api("/api/sessions/active?limit=" + PAGE + "&offset=" + activeOffset);
      if (mine !== activeLoad || searching) return;
      active = body || [];
      activeTotal = Number(resp.headers.get("X-Total-Count") || active.length);
      if (!active.length && activeOffset > 0 && activeTotal > 0) {
        // The page emptied (sessions ended): show the last page there is.
        activeOffset = Math.max(0, Math.floor((activeTotal - 1) / PAGE) * PAGE);
        return loadActive();
      }
      $("active-count").textContent = "(" + num.format(activeTotal) + ")";
      $("active-updated").textContent = "Updated " + new Date().toLocaleTimeString() + (paused ? ", paused" : ", every 30 s");
      renderActive();
      renderPager();
    } catch (err) {
      if (mine !== activeLoad || searching) return;
      failed("active-status", err, loadActive);
    }
  }

  function renderPager() {
    if (searching) return renderSearchRange();
    $("active-prev").hidden = $("active-next").hidden = false;
    const first = active.length ? activeOffset + 1 : 0, last = activeOffset + active.length;
    $("active-range").textContent = activeTotal ? num.format(first) + "–" + num.format(last) + " of " + num.format(activeTotal) : "";
    $("active-prev").disabled = activeOffset === 0;
    $("active-next").disabled = last >= activeTotal;
  }
  $("active-prev").addEventListener("click", () => { activeOffset = Math.max(0, activeOffset - PAGE); loadActive(); });
  $("active-next").addEventListener("click", () => { activeOffset += PAGE; loadActive(); });
  $("active-pause").addEventListener("click", () => {
    paused = !paused;
    $("active-pause").setAttribute("aria-pressed", String(paused));
    $("active-pause").textContent = paused ? "Resume updates" : "Pause updates";
    if (!paused) loadActive();
  });

  // renderActive draws the page's rows. A row whose session is still there is updated in place
  // (its cells' text), not rebuilt, so that a refresh keeps focus, selection and scroll.
  function renderActive() {
    const rows = active;
    const body = $("active-table").tBodies[0];
    const existing = new Map([...body.rows].map((tr) => [tr.dataset.session, tr]));
    const now = Date.now() / 1000;
    rows.forEach((s, i) => {
      const texts = [
        s.user_name ? s.user_name + " (" + s.user_id + ")" : s.user_id,
        [s.browser, s.browser_version].filter(Boolean).join(" ") || "unknown",
        s.os || "unknown",
        [s.city, s.country].filter(Boolean).join(", ") || "unknown",
        s.ip_address || "",
        clock.format(new Date(s.last_updated * 1000)),
        duration(Math.max(0, (s.ended_at || now) - s.initiated_at)),
      ];
      let tr = existing.get(s.session_id);
      existing.delete(s.session_id);
      if (tr && tr.dataset.status !== (s.status || "active")) {
        // Ended since the list's snapshot was taken: its last cell says so instead of a button.
        const fresh = activeRow(s, texts);
        tr.replaceWith(fresh);
        tr = fresh;
      } else if (tr) {
        texts.forEach((text, c) => {
          const cell = c === 0 ? tr.cells[0].firstChild : tr.cells[c]; // the user's cell holds a link
          if (cell.textContent !== text) cell.textContent = text;
        });
      } else {
        tr = activeRow(s, texts);
      }
      // Only a row out of place moves (moving a row would take focus from its button).
      if (body.rows[i] !== tr) body.insertBefore(tr, body.rows[i] || null);
    });
    for (const tr of existing.values()) tr.remove();
    if (searching) {
      if (!searching.next && !rows.length) status("active-status", noMatch(searching));
      else if (!$("active-status").classList.contains("error")) status("active-status", "");
    } else if (!active.length) status("active-status", "Nobody is active right now. Sessions show here once users sign in to your application.");
    else if (!$("active-status").classList.contains("error")) status("active-status", "");
  }

  // labelCells names each cell of tr after its column (data-label), which a phone's card layout
  // shows before the value.
  function labelCells(tr, table) {
    const heads = table.tHead.rows[0].cells;
    [...tr.cells].forEach((td, i) => {
      if (heads[i] && !heads[i].querySelector(".sr-only")) td.dataset.label = heads[i].textContent; // not the buttons' column
    });
  }

  // activeRow builds the row of session s: its cells, a link to the user's sessions, and its
  // revoke button when the user may revoke.
  function activeRow(s, texts) {
    const tr = document.createElement("tr");
    tr.dataset.session = s.session_id;
    tr.dataset.user = s.user_id;
    tr.dataset.status = s.status || "active";
    texts.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i >= 4) td.className = "nowrap";
      tr.appendChild(td);
    });
    const link = document.createElement("a");
    link.href = "#sessions?user=" + encodeURIComponent(s.user_id);
    link.className = "user-link";
    link.textContent = texts[0];
    tr.cells[0].replaceChildren(link);
    const td = document.createElement("td");
    tr.appendChild(td);
    labelCells(tr, $("active-table"));
    if (s.status === "ended") { // a search of ended sessions, or a session ended since the list's snapshot: when and why, nothing to revoke
      td.textContent = "Ended " + when.format(new Date(s.ended_at * 1000)) + ", " + s.end_reason;
      td.className = "note";
    } else if (perms.has("revoke-sessions")) { // else the API would refuse it: no button
      const b = document.createElement("button");
      b.type = "button";
      b.className = "revoke";
      b.textContent = "Revoke";
      // A name of its own for each button: a user often has several sessions on one browser.
      b.setAttribute("aria-label", "Revoke session " + s.session_id.slice(0, 8) + " of " + (s.user_name || s.user_id) + " on " +
        (s.browser || "an unknown browser") + ", started " + when.format(new Date(s.initiated_at * 1000)));
      b.addEventListener("click", () => revoke(s, tr, b));
      td.appendChild(b);
    }
    return tr;
  }
  // --- search: the server's GET /api/sessions, over every active session, not just this page ---

  // searching is the search shown in the table, or null for the paged list: {field, text,
  // label, days and after (a search of the sessions ended in the last days, since after), where,
  // next (the API's cursor), found, examined}. A search goes on by itself for up to SEARCH_STEPS
  // answers (each costs the API a bounded amount, so a rare match can take several), then offers
  // "Search further". Ended sessions can be listed without a filter; active ones are the pages.
  // (searching, searchGen and searchTimer are declared with the page's other state, above.)
  const SEARCH_STEPS = 10;

  function noMatch(s) {
    return s.days ? "No session " + s.where + (s.text ? " matches " + s.label : "") + "."
      : "No active session matches " + s.label + ".";
  }

  async function runSearch(further) {
    const field = $("active-search-by").value, text = $("active-filter").value.trim();
    const days = Number($("active-search-in").value);
    const gen = ++searchGen;
    if (!text && !days) {
      searching = null;
      $("active-search-more").hidden = true;
      active = [];
      $("active-table").tBodies[0].replaceChildren();
      return loadActive();
    }
    if (!further) {
      const by = $("active-search-by").selectedOptions[0].textContent.toLowerCase();
      const where = days ? $("active-search-in").selectedOptions[0].textContent.toLowerCase() : "";
      // The range is fixed when the search starts: its cursors go with the same parameters.
      const after = days ? Math.floor(Date.now() / 1000) - days * 86400 : 0;
      searching = { field, text, days, after, where, label: by + " “" + text + "”", next: null, found: [], examined: 0 };
      active = [];
      $("active-table").tBodies[0].replaceChildren();
    }
    const s = searching, want = s.found.length + PAGE;
    status("active-status", s.days ? "Searching the ended sessions…" : "Searching the active sessions…");
    $("active-search-more").hidden = $("active-confirm").hidden = true;
    try {
      for (let step = 0; step < SEARCH_STEPS; step++) {
        let path = "/api/sessions?limit=" + PAGE + (s.text ? "&" + s.field + "=" + encodeURIComponent(s.text) : "");
        if (s.days) path += "&status=ended&ended_after=" + s.after;
        if (s.next) path += "&cursor=" + encodeURIComponent(s.next);
        const { body } = await api(path);
        if (gen !== searchGen) return; // a newer search (or a cleared box) replaced this one
        for (const r of body.sessions) {
          if (!s.found.some((x) => x.session_id === r.session_id)) s.found.push(r); // it moved ahead of the search
        }
        s.examined += body.examined;
        s.next = body.next;
        if (!s.next || s.found.length >= want) break;
      }
      active = s.found;
      renderActive();
      renderSearchRange();
    } catch (err) {
      if (gen !== searchGen) return;
      if (err.status === 422 && err.errors) {
        status("active-status", "Cannot search: " + fieldProblems(err), true);
      } else failed("active-status", err, () => runSearch(further));
    }
  }

  function renderSearchRange() {
    const s = searching, n = s.found.length;
    $("active-prev").hidden = $("active-next").hidden = true;
    $("active-range").textContent = num.format(n) + (n === 1 ? " session" : " sessions") + (s.days ? " " + s.where : "") +
      (s.text ? (n === 1 ? " matches " : " match ") + s.label : "") + (s.next ? " so far (" + num.format(s.examined) + " searched)" : "");
    $("active-search-more").hidden = !s.next;
    // Only active sessions can be revoked.
    $("active-revoke-matching").hidden = !perms.has("revoke-sessions") || s.days > 0 || (!n && !s.next);
  }

  // Revoke all matching: first a dry run, step by step, says how many; once confirmed, the
  // revoke goes step by step too (each bounded on the server). A step that fails is tried once
  // more with the same cursor: it finds only what is still live, so nothing is revoked twice.
  const BULK_STEPS = 400; // at most 400 × 1,000 index entries: far beyond any active window

  async function bulkSteps(s, dryRun, progress) {
    let cursor = null, matched = 0, revoked = 0;
    for (let step = 0; step < BULK_STEPS; step++) {
      let path = "/api/sessions/revoke?" + s.field + "=" + encodeURIComponent(s.text) + (dryRun ? "&dry_run=true" : "");
      if (cursor) path += "&cursor=" + encodeURIComponent(cursor);
      let answer;
      try {
        answer = (await api(path, { method: "POST" })).body;
      } catch (err) {
        if (err.status === 401 || err.kind === "stale") throw err;
        answer = (await api(path, { method: "POST" })).body; // once more, same cursor
      }
      matched += answer.matched;
      revoked += answer.revoked;
      progress(matched, revoked);
      cursor = answer.next;
      if (!cursor) return { matched, revoked, done: true };
    }
    return { matched, revoked, done: false };
  }

  $("active-revoke-matching").addEventListener("click", async () => {
    const s = searching;
    if (!s) return;
    $("active-revoke-matching").disabled = true;
    try {
      const count = await bulkSteps(s, true, (m) => status("active-status", "Counting the sessions that match " + s.label + "… " + num.format(m)));
      if (searching !== s) return;
      status("active-status", "");
      if (!count.matched) { status("active-status", "No active session matches " + s.label + " any more."); return; }
      $("active-confirm-text").textContent = "End " + num.format(count.matched) + (count.matched === 1 ? " active session" : " active sessions") +
        " matching " + s.label + "? Their users will have to sign in again.";
      $("active-confirm").hidden = false;
      $("active-confirm-yes").focus();
    } catch (err) {
      failed("active-status", err);
    } finally {
      $("active-revoke-matching").disabled = false;
    }
  });
  $("active-confirm-no").addEventListener("click", () => { $("active-confirm").hidden = true; $("active-revoke-matching").focus(); });
  $("active-confirm-yes").addEventListener("click", async () => {
    const s = searching;
    $("active-confirm").hidden = true;
    if (!s) return;
    try {
      const done = await bulkSteps(s, false, (m, r) => status("active-status", "Revoking the sessions that match " + s.label + "… " + num.format(r)));
      const said = "Revoked " + num.format(done.revoked) + (done.revoked === 1 ? " session" : " sessions") + " matching " + s.label +
        (done.done ? "." : "; more remain: revoke again.");
      await runSearch(false);
      status("active-status", said);
      $("active-revoke-matching").focus();
    } catch (err) {
      failed("active-status", err);
    }
  });

  // The search runs once typing pauses, not on every key.
  $("active-filter").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => runSearch(false), 300);
  });
  $("active-search-by").addEventListener("change", () => { if ($("active-filter").value.trim()) runSearch(false); });
  $("active-search-in").addEventListener("change", () => runSearch(false));
  $("active-search-more").addEventListener("click", () => runSearch(true));

  async function revoke(s, tr, button) {
    button.disabled = true;
    try {
      await api("/api/users/" + encodeURIComponent(s.user_id) + "/sessions/" + encodeURIComponent(s.session_id), { method: "DELETE" });
      active = active.filter((x) => x.session_id !== s.session_id);
      tr.remove();
      activeTotal = Math.max(0, activeTotal - 1);
      $("active-count").textContent = "(" + num.format(activeTotal) + ")";
      renderPager();
      status("active-status", "Revoked the session of " + (s.user_name || s.user_id) + ".");
    } catch (err) {
      button.disabled = false;
      failed("active-status", err, () => revoke(s, tr, button));
    }
  }

  // --- activity over time --------------------------------------------------------------------

  function clearCharts() {
    for (const id of Object.keys(charts)) {
      charts[id].destroy();
      delete charts[id];
    }
    for (const id of ["dau-chart", "new-chart"]) $(id).replaceChildren();
  }

  function chart(id, series, xs, ys) {
    const el = $(id);
    if (charts[id]) charts[id].destroy();
    el.replaceChildren();
    if (typeof uPlot === "undefined") {
      el.textContent = "The chart library did not load: rebuild the page's assets (make assets).";
      return;
    }
    const last = xs.length - 1;
    const opts = {
      width: Math.max(280, el.clientWidth || 600), height: 240,
      // The x values are the tenant's calendar days as UTC midnights: drawn in UTC whatever the
      // browser's zone, so that no day shifts west (or east) of UTC.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      // Counts start at zero: a chart whose axis began at its minimum would magnify a dip.
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? Math.ceil(max * 1.1) : 1] } },
      axes: [{}, { values: (u, vals) => vals.map((v) => num.format(v)) }],
      series: [{ label: "Day", value: (u, ts) => ts == null ? "–" : new Date(ts * 1000).toISOString().slice(0, 10) }]
        .concat(series.map((s) => ({ label: s.label, stroke: s.color, width: 2, value: (u, v) => v == null ? "–" : num.format(v) }))),
      // The legend shows the latest day's values unless the pointer is over another day.
      hooks: { setCursor: [(u) => { if (u.cursor.idx == null && last >= 0) u.setLegend({ idx: last }); }] },
    };
    charts[id] = new uPlot(opts, [xs].concat(ys), el);
    if (last >= 0) charts[id].setLegend({ idx: last });
  }

  // period is the days the Activity view shows, as the tenant's calendar days: the last 7, 30 or
  // 90 up to today, or the dates picked (in either order); null while a date is missing.
  function period() {
    if ($("range").value === "custom") {
      const a = $("range-start").value, b = $("range-end").value;
      if (!a || !b) return null;
      return a <= b ? { start: a, end: b } : { start: b, end: a };
    }
    const end = today(tenantZone);
    return { start: addDays(end, -(Number($("range").value) - 1)), end };
  }

  // activityLoad numbers the Activity view's loads: picking a period starts one per change (the
  // range, then each date), and their answers can come back in any order; only the latest draws.
  let activityLoad = 0;
  async function loadActivity() {
    const mine = ++activityLoad;
    const p = period();
    if (!p) {
      status("activity-status", "Pick the first and the last day.");
      return;
    }
    const { start, end } = p;
    status("activity-status", "Loading…");
    try {
      const counts = (await api("/api/analytics/active-users?start=" + start + "&end=" + end)).body;
      if (mine !== activityLoad) return; // another period was picked meanwhile: its load draws
      const xs = counts.days.map((d) => Date.parse(d.date + "T00:00:00Z") / 1000);
      chart("dau-chart", [{ label: "DAU", color: "#0b57d0" }, { label: "WAU", color: "#146c2e" }, { label: "MAU", color: "#b3261e" }], xs,
        [counts.days.map((d) => d.dau), counts.days.map((d) => d.wau), counts.days.map((d) => d.mau)]);
      const iso = (day) => day + "T00:00:00.000Z";
      const news = (await api("/api/v1/engagement-dashboard/users/new-users?start=" + iso(start) + "&end=" + end + "T23:59:59.999Z")).body;
      if (mine !== activityLoad) return;
      const byDay = {};
      for (const d of news.days) byDay[d.day.slice(0, 10)] = d.users;
      chart("new-chart", [{ label: "New users", color: "#6d28d9" }], xs, [counts.days.map((d) => byDay[d.date] || 0)]);
      const total = counts.days.reduce((a, d) => a + d.dau, 0);
      status("activity-status", total ? "" : "No activity in this period yet: the charts fill as users sign in.");
    } catch (err) {
      if (mine !== activityLoad) return; // a later load owns the charts and the status
      // The charts drawn so far are of another period than the one now selected.
      if (err.kind !== "stale") clearCharts();
      if (err.status === 422 && err.errors) {
        status("activity-status", "Cannot show those days: " + fieldProblems(err), true);
      } else failed("activity-status", err, loadActivity);
    }
  }
  $("range").addEventListener("change", () => {
    const custom = $("range").value === "custom";
    $("custom-range").hidden = !custom;
    if (custom) {
      // Start from the last 30 days; no day after the tenant's today.
      const end = today(tenantZone);
      $("range-start").max = $("range-end").max = end;
      if (!$("range-end").value) $("range-end").value = end;
      if (!$("range-start").value) $("range-start").value = addDays(end, -29);
    }
    loadActivity();
  });
  $("range-start").addEventListener("change", loadActivity);
  $("range-end").addEventListener("change", loadActivity);

  $("csv").addEventListener("click", async () => {
    const p = period();
    if (!p) return;
    const { start, end } = p;
    try {
      const { body } = await api("/api/analytics/active-users?start=" + start + "&end=" + end, { headers: { Accept: "text/csv" }, blob: true });
      const url = URL.createObjectURL(body);
      const a = document.createElement("a");
      a.href = url;
      a.download = "active-users-" + start + "-" + end + ".csv";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (err) {
      failed("activity-status", err);
    }
  });

  // --- when people are active ----------------------------------------------------------------

  // heatAlpha is the opacity of the accent for a cell at level (its users over the busiest
  // hour's): two ranges, so that every cell's number keeps 4.5:1 — dark text on 12–70% (4.7:1
  // at 70%), white text on 88–100% (5.0:1 at 88%).
  function heatAlpha(level) {
    return level <= 0.5 ? 0.12 + 1.16 * level : 0.88 + 0.24 * (level - 0.5);
  }

  async function loadHours() {
    status("hours-status", "Loading…");
    const end = new Date(), start = new Date(end.getTime() - 6 * 86400000);
    try {
      const data = (await api("/api/v1/engagement-dashboard/users/users-by-time-of-the-day-in-a-week?start=" +
        start.toISOString().slice(0, 10) + "T00:00:00.000Z&end=" + end.toISOString())).body;
      const grid = {};
      let max = 0;
      for (const c of data.week) {
        const day = c.year + "-" + String(c.month).padStart(2, "0") + "-" + String(c.day).padStart(2, "0");
        (grid[day] = grid[day] || {})[c.hour] = c.users;
        max = Math.max(max, c.users);
      }
      const table = $("heatmap");
      table.replaceChildren();
      const caption = table.createCaption();
      caption.className = "sr-only";
      caption.textContent = "Users active in each hour of the last 7 days (" + tenantZone + ")";
      const head = table.createTHead().insertRow();
      head.appendChild(document.createElement("th"));
      for (let h = 0; h < 24; h++) {
        const th = document.createElement("th");
        th.scope = "col";
        th.textContent = String(h);
        head.appendChild(th);
      }
      const body = table.createTBody();
      const last = today(tenantZone);
      for (let i = 6; i >= 0; i--) {
        const day = addDays(last, -i);
        const tr = body.insertRow();
        const th = document.createElement("th");
        th.scope = "row";
        th.textContent = new Date(day + "T12:00:00Z").toLocaleDateString(undefined, { weekday: "short", month: "short", day: "numeric", timeZone: "UTC" });
        tr.appendChild(th);
        for (let h = 0; h < 24; h++) {
          const n = (grid[day] || {})[h] || 0;
          const td = tr.insertCell();
          td.textContent = n ? num.format(n) : "";
          td.title = num.format(n) + " users at " + h + ":00";
          const level = max ? n / max : 0;
          td.style.backgroundColor = n ? "rgba(11, 87, 208, " + heatAlpha(level).toFixed(2) + ")" : "#eef1f5";
          if (level > 0.5) td.classList.add("hot");
        }
      }
      // The scale: what the colours mean, from one user an hour to the busiest hour.
      const scale = $("heatmap-scale");
      scale.replaceChildren();
      if (max) {
        scale.append("1 user");
        for (const level of [0, 0.25, 0.5, 0.75, 1]) {
          const sw = document.createElement("span");
          sw.className = "swatch";
          sw.style.backgroundColor = "rgba(11, 87, 208, " + heatAlpha(level).toFixed(2) + ")";
          scale.append(sw);
        }
        scale.append(num.format(max) + " users an hour");
      }
      status("hours-status", max ? "" : "Nobody was active in the last 7 days.");
    } catch (err) {
      failed("hours-status", err, loadHours);
    }
  }

  // --- a user's sessions ---------------------------------------------------------------------

  $("sessions-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadSessions($("sessions-user").value.trim());
  });

  // A user's sessions, SESSIONS_PAGE at a time, newest first, with their device, place and
  // whether the device was new; live ones can be revoked (with revoke-sessions), one or all.
  const SESSIONS_PAGE = 20;
  let sessionsUser = "", sessionsPage = 1;

  // sessionsLoad numbers the Sessions view's loads: only the latest (user, page) asked draws.
  let sessionsLoad = 0;
  async function loadSessions(user, page = 1) {
    const table = $("sessions-table");
    const mine = ++sessionsLoad;
    sessionsUser = user;
    sessionsPage = page;
    status("sessions-status", "Loading the sessions of " + user + "…");
    try {
      const { resp, body } = await api("/api/users/" + encodeURIComponent(user) + "/sessions?status=all&size=" + SESSIONS_PAGE + "&page=" + page);
      if (mine !== sessionsLoad) return; // another user or page was asked for meanwhile
      const list = body || [];
      let paging = {};
      try { paging = JSON.parse(resp.headers.get("X-Pagination") || "{}"); } catch (e) { /* the API always sends it */ }
      const total = paging.total_count || list.length;
      const rows = table.tBodies[0];
      rows.replaceChildren();
      let live = 0;
      for (const s of list) {
        const tr = rows.insertRow();
        tr.dataset.session = s.session_id;
        const m = s.last_metadata || {};
        const state = s.end_reason ? "ended (" + s.end_reason + ") " + when.format(new Date(s.ended_at * 1000)) : "active";
        for (const text of [s.session_id, when.format(new Date(s.initiated_at * 1000)), when.format(new Date(s.last_updated * 1000)),
          state, m.user_agent || "", [m.city, m.country].filter(Boolean).join(", "), m.ip_address || "",
          s.new_device ? "new device" : "", (s.client_ids || []).join(", ")]) {
          tr.insertCell().textContent = text;
        }
        tr.cells[3].className = s.end_reason ? "state-ended" : "state-active";
        tr.cells[4].className = "ua";
        const act = tr.insertCell();
        labelCells(tr, table);
        if (!s.end_reason && perms.has("revoke-sessions")) {
          live++;
          const b = document.createElement("button");
          b.type = "button";
          b.className = "revoke";
          b.textContent = "Revoke";
          b.setAttribute("aria-label", "Revoke session " + s.session_id.slice(0, 8) + " of " + user);
          b.addEventListener("click", () => revokeOne(user, s, tr, b));
          act.appendChild(b);
        }
      }
      table.hidden = !list.length;
      const first = (page - 1) * SESSIONS_PAGE + 1;
      $("sessions-range").textContent = list.length ? num.format(first) + "–" + num.format(first + list.length - 1) + " of " + num.format(total) + " sessions of " + user : "";
      $("sessions-prev").hidden = $("sessions-next").hidden = !list.length;
      $("sessions-prev").disabled = !paging.has_previous;
      $("sessions-next").disabled = !paging.has_next;
      $("sessions-revoke-all").hidden = !perms.has("revoke-sessions") || !list.length;
      status("sessions-status", list.length ? "" : user + " has no sessions in the retention period.");
    } catch (err) {
      if (mine !== sessionsLoad) return;
      table.hidden = true;
      if (err.status === 404) status("sessions-status", "There is no user " + user + " in this tenant.", true);
      else failed("sessions-status", err, () => loadSessions(user, page));
    }
  }
  $("sessions-prev").addEventListener("click", () => loadSessions(sessionsUser, Math.max(1, sessionsPage - 1)));
  $("sessions-next").addEventListener("click", () => loadSessions(sessionsUser, sessionsPage + 1));

  async function revokeOne(user, s, tr, button) {
    button.disabled = true;
    try {
      await api("/api/users/" + encodeURIComponent(user) + "/sessions/" + encodeURIComponent(s.session_id), { method: "DELETE" });
      tr.cells[3].textContent = "revoked just now";
      tr.cells[3].className = "state-ended";
      button.remove();
      status("sessions-status", "Revoked session " + s.session_id.slice(0, 8) + " of " + user + ".");
      refreshActiveAfterRevoke();
    } catch (err) {
      button.disabled = false;
      failed("sessions-status", err, () => revokeOne(user, s, tr, button));
    }
  }

  // A revoke here also shows in the active list at once, not at its next 30 s refresh.
  function refreshActiveAfterRevoke() {
    if (perms.has("view-active-users")) loadActive();
  }

  // Revoke all asks once more, inline: a second button confirms, Cancel or leaving does not.
  $("sessions-revoke-all").addEventListener("click", () => {
    $("sessions-confirm").hidden = false;
    $("sessions-confirm-text").textContent = "End every live session of " + sessionsUser + "? They will have to sign in again.";
    $("sessions-confirm-yes").focus();
  });
  $("sessions-confirm-no").addEventListener("click", () => { $("sessions-confirm").hidden = true; $("sessions-revoke-all").focus(); });
  $("sessions-confirm-yes").addEventListener("click", async () => {
    const user = sessionsUser;
    $("sessions-confirm").hidden = true;
    try {
      await api("/api/users/" + encodeURIComponent(user) + "/sessions", { method: "DELETE" });
      await loadSessions(user, 1);
      status("sessions-status", "Revoked every live session of " + user + ".");
      refreshActiveAfterRevoke();
    } catch (err) {
      failed("sessions-status", err);
    }
  });

  // --- views with their own URL ---------------------------------------------------------------

  // route shows what the address names: #sessions?user=ID opens that user's sessions.
  function route() {
    const m = /^#sessions\?user=(.+)$/.exec(location.hash);
    if (!m || !creds() || !perms.has("view-user-sessions")) return;
    const user = decodeURIComponent(m[1]);
    $("sessions-user").value = user;
    loadSessions(user);
    $("sessions").scrollIntoView();
  }
  window.addEventListener("hashchange", route);

  // --- boot ----------------------------------------------------------------------------------

  if (creds()) {
    signIn(creds().user, creds().token).then(start, (err) => signOut(explain(err)));
  } else {
    signOut("");
  }
})();
