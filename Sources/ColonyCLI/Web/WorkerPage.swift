/// The donor's page, whole: HTML, CSS and script in one string, so the binary serves it with nothing fetched from
/// elsewhere (no CDN, no web fonts). The script polls `/api/status` every 1.5 s and posts the buttons' actions; it
/// reads `/api/preferences` once, and posts the preferences the donor changed when they press Save. A `?token=` in
/// the page's address is passed on to the API.
enum WorkerPage {
    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Colony worker</title>
        <style>
        :root { --ink: #1d2430; --muted: #677185; --line: #e3e7ee; --card: #ffffff; --bg: #f4f6f9;
                --accent: #2f6fdb; --good: #1f9d55; --bad: #d64545; --warn: #c98a0b; }
        * { box-sizing: border-box; }
        body { margin: 0; background: var(--bg); color: var(--ink);
               font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
        header { display: flex; align-items: center; gap: 16px; padding: 18px 28px; background: var(--card);
                 border-bottom: 1px solid var(--line); }
        header h1 { font-size: 20px; margin: 0; font-weight: 650; }
        header .where { color: var(--muted); font-size: 13px; }
        .badge { padding: 3px 12px; border-radius: 999px; font-size: 13px; font-weight: 600; color: #fff;
                 background: var(--muted); }
        .badge.running { background: var(--good); } .badge.paused { background: var(--warn); }
        .badge.finishing { background: var(--accent); } .badge.offline { background: var(--bad); }
        .badge.suspended { background: #b5651d; }
        .notice { background: #fff7e6; border: 1px solid #f0d9a8; color: #7a5200; border-radius: 12px;
                  padding: 10px 18px; margin-bottom: 22px; font-size: 14px; }
        .actions { margin-left: auto; display: flex; gap: 8px; }
        button { font: inherit; font-size: 14px; padding: 7px 14px; border-radius: 8px; cursor: pointer;
                 border: 1px solid var(--line); background: var(--card); color: var(--ink); }
        button:hover:not(:disabled) { border-color: var(--accent); color: var(--accent); }
        button:disabled { opacity: .45; cursor: default; }
        main { max-width: 1040px; margin: 24px auto; padding: 0 24px; }
        .counts { display: grid; grid-template-columns: repeat(4, 1fr); gap: 14px; margin-bottom: 22px; }
        .count { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 14px 18px; }
        .count b { display: block; font-size: 28px; font-weight: 650; font-variant-numeric: tabular-nums; }
        .count span { color: var(--muted); font-size: 13px; }
        .count.validated b { color: var(--good); } .count.invalid b { color: var(--bad); }
        section { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 16px 20px;
                  margin-bottom: 22px; }
        section h2 { font-size: 15px; margin: 0 0 10px; color: var(--muted); font-weight: 600;
                     text-transform: uppercase; letter-spacing: .04em; }
        table { width: 100%; border-collapse: collapse; }
        td, th { text-align: left; padding: 8px 6px; border-top: 1px solid var(--line); font-size: 14px; }
        th { color: var(--muted); font-weight: 500; border-top: 0; }
        td.num { font-variant-numeric: tabular-nums; }
        code { font: 13px ui-monospace, "DejaVu Sans Mono", monospace; color: var(--muted); }
        .progress { display: flex; align-items: center; gap: 10px; }
        .bar { flex: 1; height: 8px; background: var(--line); border-radius: 4px; overflow: hidden; min-width: 140px; }
        .bar i { display: block; height: 100%; background: var(--accent); }
        .idle { color: var(--muted); }
        .held { color: var(--warn); font-weight: 600; }
        .empty { color: var(--muted); margin: 4px 0; }
        td.field { width: 38%; }
        .summary, .note { color: var(--muted); font-size: 12px; }
        #verify-credit { white-space: nowrap; }
        .error { color: var(--bad); font-size: 12px; }
        input.value { width: 100%; font: 13px ui-monospace, "DejaVu Sans Mono", monospace; color: var(--ink);
                      padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; background: var(--card); }
        input.value:disabled { background: var(--bg); color: var(--muted); }
        input.value.changed { border-color: var(--accent); }
        .source { font-size: 12px; padding: 2px 9px; border-radius: 999px; background: var(--bg); color: var(--muted);
                  white-space: nowrap; }
        .source.file { color: var(--accent); } .source.over { color: var(--warn); font-weight: 600; }
        .save { display: flex; align-items: center; gap: 12px; margin-top: 12px; }
        #saved { color: var(--muted); font-size: 13px; }
        footer { color: var(--muted); font-size: 12px; text-align: center; margin: 10px 0 30px; }
        </style>
        </head>
        <body>
        <header>
          <h1>Colony worker</h1>
          <span id="state" class="badge">connecting…</span>
          <span class="where" id="where"></span>
          <div class="actions">
            <button id="pause" data-action="pause">Pause</button>
            <button id="finish" data-action="finish-then-pause">Finish current units then pause</button>
            <button id="resume" data-action="resume">Resume</button>
          </div>
        </header>
        <main>
          <div id="notice" class="notice" hidden></div>
          <div class="counts">
            <div class="count validated"><b id="validated">–</b><span>validated</span></div>
            <div class="count invalid"><b id="invalid">–</b><span>invalid</span></div>
            <div class="count"><b id="computed">–</b><span>computed</span></div>
            <div class="count"><b id="leases">–</b><span>leases held</span></div>
          </div>
          <section>
            <h2>Cores</h2>
            <table><thead><tr><th>Core</th><th>Job</th><th>Kernel</th><th>Unit</th><th>Progress</th><th>Time</th></tr></thead>
            <tbody id="cores"></tbody></table>
          </section>
          <section>
            <h2>Jobs</h2>
            <table><tbody id="jobs"></tbody></table>
          </section>
          <section>
            <h2>Credit</h2>
            <p id="credit" class="empty">None yet: credit comes with the first validated unit.</p>
            <p class="note">This worker's own tally of the work in its validated units. Anyone can recompute it from
              the custodians' signed records: <code id="verify-credit">colony credit JOB --worker KEY</code></p>
          </section>
          <section id="preferences">
            <h2>Preferences</h2>
            <p class="summary">Saved in <code id="pref-file"></code>; the worker follows them as soon as they are
              saved. Numbers take <code>off</code> (or nothing) for no limit, lists are comma-separated, time windows
              are JSON.</p>
            <table><thead><tr><th>Preference</th><th>Value</th><th>Source</th></tr></thead>
            <tbody id="prefs"></tbody></table>
            <div class="save"><button id="save" disabled>Save</button><span id="saved"></span></div>
          </section>
        </main>
        <footer>Served by this computer's Colony worker; nothing here comes from elsewhere.
          <a href="metrics">Metrics</a></footer>
        <script>
        "use strict";
        const token = new URLSearchParams(location.search).get("token");
        const api = (path) => path + (token ? "?token=" + encodeURIComponent(token) : "");
        const $ = (id) => document.getElementById(id);
        const esc = (text) => String(text).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})[c]);
        const titles = {running: "Running", paused: "Paused", finishing: "Finishing, then pausing"};
        let jobTitles = {};

        function render(status) {
          const state = $("state");
          const suspended = status.state === "running" && status.suspensions.length > 0;
          state.textContent = suspended ? "Suspended" : titles[status.state] || status.state;
          state.className = "badge " + (suspended ? "suspended" : status.state);
          $("where").textContent = "peer " + status.endpoint + " · " + status.kernels.join(", ") + " · " +
            status.coresInUse + (status.coresInUse === 1 ? " core" : " cores") + " at " + status.cpuPercent + "%" +
            (status.inUse ? " · computer in use" : "");
          const notes = [];
          if (status.suspensions.length > 0) notes.push("Suspended: " + status.suspensions.map((r) => r.text).join("; "));
          if (status.leaseHolds.length > 0) notes.push("Leasing no new units: " + status.leaseHolds.map((r) => r.text).join("; "));
          $("notice").innerHTML = notes.map(esc).join("<br>");
          $("notice").hidden = notes.length === 0;
          for (const name of ["validated", "invalid", "computed"]) $(name).textContent = status.counts[name];
          $("leases").textContent = status.counts.leasesHeld;
          $("pause").disabled = status.state === "paused";
          $("finish").disabled = status.state !== "running";
          $("resume").disabled = status.state === "running";
          jobTitles = {};
          for (const job of status.jobs) jobTitles[job.id] = job.title;
          $("cores").innerHTML = status.cores.map((core) => {
            if (!core.busy) return `<tr class="core"><td>${core.core}</td><td class="idle" colspan="5">idle</td></tr>`;
            const percent = Math.round(core.progress * 100);
            const title = jobTitles[core.job] || core.job.slice(0, 12);
            return `<tr class="core busy"><td>${core.core}</td><td>${esc(title)}</td><td>${esc(core.kernel)}</td>` +
              `<td class="num">${core.unit}</td><td><div class="progress"><div class="bar"><i style="width:${percent}%"></i></div>` +
              `<span class="num">${percent}%</span>${core.held ? '<span class="held">held</span>' : ""}</div></td>` +
              `<td class="num">${core.seconds.toFixed(1)} s</td></tr>`;
          }).join("");
          const credit = Object.entries(status.credit || {}).filter(([, amount]) => amount > 0);
          if (credit.length > 0) {
            $("credit").className = "";
            $("credit").innerHTML = credit.map(([unit, amount]) =>
              `<b class="num">${Math.round(amount).toLocaleString("en")}</b> ${esc(unit)}`).join(" · ");
          }
          $("verify-credit").textContent = "colony credit " + (status.jobs[0] ? status.jobs[0].id.slice(0, 12) + "…" : "JOB") +
            " --worker " + status.key.slice(0, 12);
          $("jobs").innerHTML = status.jobs.length === 0
            ? '<tr><td class="empty">No job found yet for these kernels; the worker keeps looking.</td></tr>'
            : status.jobs.map((job) => `<tr class="job"><td>${esc(job.title)}</td><td><code>${job.id.slice(0, 16)}</code></td></tr>`).join("");
        }

        async function poll() {
          try {
            const response = await fetch(api("/api/status"), {cache: "no-store"});
            if (!response.ok) throw new Error(response.status + " " + (await response.text()));
            render(await response.json());
          } catch (error) {
            $("state").textContent = "not answering";
            $("state").className = "badge offline";
          }
        }

        // Preferences: read once and after each save, so that a poll never overwrites what the donor is typing.
        let preferences = [];
        const textOf = (field) => {
          if (field.form === "json") return JSON.stringify(field.value);
          if (field.value === null) return "off";
          return Array.isArray(field.value) ? field.value.join(", ") : String(field.value);
        };

        function renderPreferences(answer) {
          preferences = answer.fields;
          $("pref-file").textContent = answer.file;
          $("prefs").innerHTML = preferences.map((field) => {
            const text = esc(textOf(field));
            const note = field.overridden
              ? `<div class="note">${esc(field.source)} overrides the file; a value saved here applies once it is gone</div>` : "";
            return `<tr class="pref"><td class="field"><b>${esc(field.name)}</b><div class="summary">${esc(field.summary)}</div></td>` +
              `<td><input class="value" id="pref-${esc(field.name)}" data-original="${text}" value="${text}"` +
              `${field.overridden ? " disabled" : ""}>${note}<div class="error" id="error-${esc(field.name)}"></div></td>` +
              `<td><span class="source ${field.overridden ? "over" : esc(field.source)}">${esc(field.source)}</span></td></tr>`;
          }).join("");
          for (const input of document.querySelectorAll("input.value")) input.addEventListener("input", edited);
          edited();
        }

        // The fields the donor changed, each as typed (the server reads text as `colony config set` does), time
        // windows as the JSON they wrote.
        function changes() {
          const values = {};
          for (const field of preferences) {
            const input = $("pref-" + field.name);
            if (!input || input.disabled || input.value === input.dataset.original) continue;
            values[field.name] = input.value;
            if (field.form === "json") {
              try { values[field.name] = JSON.parse(input.value.trim() || "[]"); } catch (error) { /* the server names it */ }
            }
          }
          return values;
        }

        function edited() {
          for (const input of document.querySelectorAll("input.value")) {
            input.classList.toggle("changed", input.value !== input.dataset.original);
          }
          $("save").disabled = Object.keys(changes()).length === 0;
        }

        async function loadPreferences() {
          const response = await fetch(api("/api/preferences"), {cache: "no-store"});
          if (response.ok) renderPreferences(await response.json());
          else $("preferences").hidden = true;
        }

        $("save").addEventListener("click", async () => {
          for (const error of document.querySelectorAll(".pref .error")) error.textContent = "";
          $("saved").textContent = "";
          const response = await fetch(api("/api/preferences"), {
            method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(changes()),
          });
          const answer = await response.json().catch(() => ({error: response.status + " " + response.statusText}));
          if (response.ok) {
            renderPreferences(answer);
            $("saved").textContent = "Saved.";
            poll();
          } else {
            ((answer.field && $("error-" + answer.field)) || $("saved")).textContent = answer.error;
          }
        });

        for (const button of document.querySelectorAll("button[data-action]")) {
          button.addEventListener("click", async () => {
            const response = await fetch(api("/api/" + button.dataset.action), {method: "POST"});
            if (response.ok) render(await response.json());
          });
        }
        poll();
        loadPreferences();
        setInterval(poll, 1500);
        </script>
        </body>
        </html>
        """
}
