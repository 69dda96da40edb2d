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
  let active = [];
  let refresh = null;

  // --- credentials and requests -------------------------------------------------------------

  function creds() {
    const user = store.getItem("pulse.user"), token = store.getItem("pulse.token");
    return user && token ? { user, token } : null;
  }

  class APIError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // api calls this origin with the token; an error carries the surface's own message.
  async function api(path, opts = {}) {
    const c = creds();
    if (!c) throw new APIError(401, "Not signed in.");
    const headers = Object.assign({ "X-User-Id": c.user, "X-Auth-Token": c.token, Accept: "application/json" }, opts.headers || {});
    let resp;
    try {
      resp = await fetch(path, { method: opts.method || "GET", headers, cache: "no-store" });
    } catch (e) {
      throw new APIError(0, "Pulse cannot be reached: check the network, then retry.");
    }
    if (resp.ok) return resp;
    let detail = "";
    try {
      const body = await resp.json();
      detail = body.detail || body.error || body.message || "";
    } catch (e) { /* not JSON */ }
    throw new APIError(resp.status, detail || resp.statusText);
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

  function status(id, text, isError) {
    const el = $(id);
    el.textContent = text || "";
    el.classList.toggle("error", !!isError);
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
    // One cheap call proves the token and tells the tenant's time zone (a day that is past in
    // every zone). A user whose roles lack view-engagement-dashboard still signs in: the views
    // it cannot read say so.
    const d = addDays(today("UTC"), -2);
    try {
      const resp = await api("/api/analytics/active-users?start=" + d + "&end=" + d);
      tenantZone = (await resp.json()).timeZone || "UTC";
    } catch (err) {
      if (err.status !== 403) throw err;
    }
  }

  function signOut(message) {
    store.removeItem("pulse.user");
    store.removeItem("pulse.token");
    if (refresh) clearInterval(refresh);
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
    $("zones").textContent = "Times are in your time zone (" + browserZone + "); days are the tenant's (" + tenantZone + ").";
    loadActive();
    loadActivity();
    loadHours();
    if (refresh) clearInterval(refresh);
    refresh = setInterval(loadActive, 30000);
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

  // failed handles an error of a view: a refused token ends the session everywhere.
  function failed(view, err) {
    if (err.status === 401) { signOut(explain(err)); return; }
    status(view, explain(err), true);
  }

  // --- active now ----------------------------------------------------------------------------

  function duration(seconds) {
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
    return h > 0 ? h + " h " + m + " min" : m + " min";
  }

  async function loadActive() {
    if (!active.length) status("active-status", "Loading active sessions…");
    try {
      const resp = await api("/api/sessions/active?limit=1000");
      active = await resp.json();
      const total = Number(resp.headers.get("X-Total-Count") || active.length);
      $("active-count").textContent = "(" + num.format(total) + ")";
      $("active-updated").textContent = "Updated " + new Date().toLocaleTimeString() + ", every 30 s";
      renderActive();
    } catch (err) {
      failed("active-status", err);
    }
  }

  function renderActive() {
    const q = $("active-filter").value.trim().toLowerCase();
    const rows = active.filter((s) => !q || [s.user_id, s.user_name, s.browser, s.browser_version, s.os, s.country, s.city, s.ip_address]
      .join(" ").toLowerCase().includes(q));
    const body = $("active-table").tBodies[0];
    body.replaceChildren();
    const now = Date.now() / 1000;
    for (const s of rows) {
      const tr = document.createElement("tr");
      tr.dataset.session = s.session_id;
      tr.dataset.user = s.user_id;
      const cells = [
        s.user_name ? s.user_name + " (" + s.user_id + ")" : s.user_id,
        [s.browser, s.browser_version].filter(Boolean).join(" ") || "unknown",
        s.os || "unknown",
        [s.city, s.country].filter(Boolean).join(", ") || "unknown",
        s.ip_address || "",
        clock.format(new Date(s.last_updated * 1000)),
        duration(Math.max(0, now - s.initiated_at)),
      ];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (i >= 4) td.className = "nowrap";
        tr.appendChild(td);
      });
      const td = document.createElement("td");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "revoke";
      b.textContent = "Revoke";
      b.setAttribute("aria-label", "Revoke the session of " + (s.user_name || s.user_id) + " on " + (s.browser || "an unknown browser"));
      b.addEventListener("click", () => revoke(s, tr, b));
      td.appendChild(b);
      tr.appendChild(td);
      body.appendChild(tr);
    }
    if (!active.length) status("active-status", "Nobody is active right now. Sessions show here once users sign in to your application.");
    else if (!rows.length) status("active-status", "No active session matches “" + q + "”.");
    else status("active-status", "");
  }
  $("active-filter").addEventListener("input", renderActive);

  async function revoke(s, tr, button) {
    button.disabled = true;
    try {
      await api("/api/users/" + encodeURIComponent(s.user_id) + "/sessions/" + encodeURIComponent(s.session_id), { method: "DELETE" });
      active = active.filter((x) => x.session_id !== s.session_id);
      tr.remove();
      const n = Number(($("active-count").textContent.match(/\d+/g) || ["1"]).join("")) - 1;
      $("active-count").textContent = "(" + num.format(Math.max(0, n)) + ")";
      status("active-status", "Revoked the session of " + (s.user_name || s.user_id) + ".");
    } catch (err) {
      button.disabled = false;
      failed("active-status", err);
    }
  }

  // --- activity over time --------------------------------------------------------------------

  const charts = {};

  function chart(id, series, xs, ys) {
    const el = $(id);
    if (charts[id]) charts[id].destroy();
    el.replaceChildren();
    if (typeof uPlot === "undefined") {
      el.textContent = "The chart library did not load: rebuild the page's assets (make assets).";
      return;
    }
    const opts = {
      width: Math.max(280, el.clientWidth || 600), height: 240,
      scales: { x: { time: true } },
      axes: [{}, { values: (u, vals) => vals.map((v) => num.format(v)) }],
      series: [{}].concat(series.map((s) => ({ label: s.label, stroke: s.color, width: 2, value: (u, v) => v == null ? "–" : num.format(v) }))),
    };
    charts[id] = new uPlot(opts, [xs].concat(ys), el);
  }

  async function loadActivity() {
    const days = Number($("range").value);
    const end = today(tenantZone), start = addDays(end, -(days - 1));
    status("activity-status", "Loading…");
    try {
      const counts = await (await api("/api/analytics/active-users?start=" + start + "&end=" + end)).json();
      const xs = counts.days.map((d) => Date.parse(d.date + "T00:00:00Z") / 1000);
      chart("dau-chart", [{ label: "DAU", color: "#0b57d0" }, { label: "WAU", color: "#146c2e" }, { label: "MAU", color: "#b3261e" }], xs,
        [counts.days.map((d) => d.dau), counts.days.map((d) => d.wau), counts.days.map((d) => d.mau)]);
      const iso = (day) => day + "T00:00:00.000Z";
      const news = await (await api("/api/v1/engagement-dashboard/users/new-users?start=" + iso(start) + "&end=" + end + "T23:59:59.999Z")).json();
      const byDay = {};
      for (const d of news.days) byDay[d.day.slice(0, 10)] = d.users;
      chart("new-chart", [{ label: "New users", color: "#6d28d9" }], xs, [counts.days.map((d) => byDay[d.date] || 0)]);
      const total = counts.days.reduce((a, d) => a + d.dau, 0);
      status("activity-status", total ? "" : "No activity in this period yet: the charts fill as users sign in.");
    } catch (err) {
      failed("activity-status", err);
    }
  }
  $("range").addEventListener("change", loadActivity);

  $("csv").addEventListener("click", async () => {
    const days = Number($("range").value);
    const end = today(tenantZone), start = addDays(end, -(days - 1));
    try {
      const resp = await api("/api/analytics/active-users?start=" + start + "&end=" + end, { headers: { Accept: "text/csv" } });
      const url = URL.createObjectURL(await resp.blob());
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

  async function loadHours() {
    status("hours-status", "Loading…");
    const end = new Date(), start = new Date(end.getTime() - 6 * 86400000);
    try {
      const data = await (await api("/api/v1/engagement-dashboard/users/users-by-time-of-the-day-in-a-week?start=" +
        start.toISOString().slice(0, 10) + "T00:00:00.000Z&end=" + end.toISOString())).json();
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
          td.style.backgroundColor = n ? "rgba(11, 87, 208, " + (0.12 + 0.88 * level).toFixed(2) + ")" : "#eef1f5";
          if (level > 0.5) td.classList.add("hot");
        }
      }
      status("hours-status", max ? "" : "Nobody was active in the last 7 days.");
    } catch (err) {
      failed("hours-status", err);
    }
  }

  // --- a user's sessions ---------------------------------------------------------------------

  $("sessions-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const user = $("sessions-user").value.trim();
    const table = $("sessions-table");
    status("sessions-status", "Loading the sessions of " + user + "…");
    table.hidden = true;
    try {
      const resp = await api("/api/users/" + encodeURIComponent(user) + "/sessions?status=all&size=100");
      const list = await resp.json();
      const body = table.tBodies[0];
      body.replaceChildren();
      for (const s of list) {
        const tr = body.insertRow();
        const state = s.end_reason ? "ended (" + s.end_reason + ") " + when.format(new Date(s.ended_at * 1000)) : "active";
        const m = s.last_metadata || {};
        for (const text of [s.session_id, when.format(new Date(s.initiated_at * 1000)), when.format(new Date(s.last_updated * 1000)),
          state, [m.city, m.country].filter(Boolean).join(", "), m.ip_address || "", (s.client_ids || []).join(", ")]) {
          tr.insertCell().textContent = text;
        }
        tr.cells[3].className = s.end_reason ? "state-ended" : "state-active";
      }
      table.hidden = !list.length;
      status("sessions-status", list.length ? list.length + " most recent sessions of " + user + "." : user + " has no sessions in the retention period.");
    } catch (err) {
      if (err.status === 404) status("sessions-status", "There is no user " + user + " in this tenant.", true);
      else failed("sessions-status", err);
    }
  });

  // --- boot ----------------------------------------------------------------------------------

  if (creds()) {
    signIn(creds().user, creds().token).then(start, (err) => signOut(explain(err)));
  } else {
    signOut("");
  }
})();
