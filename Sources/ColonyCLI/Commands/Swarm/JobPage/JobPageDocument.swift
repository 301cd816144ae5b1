/// The job page's HTML, CSS and script, compiled in: the page loads nothing from elsewhere. The script reads
/// `/api/job` every 2 s and, when more units are validated, reloads `/image.png`. A `token` in the page's query
/// string is passed on to both.
enum JobPageDocument {
    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Colony job</title>
        <style>
        :root { --validated: #2e9d57; --running: #3a7bd5; --open: #c9ced6; --failed: #d0453b; --ink: #1d2330; --muted: #667085; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f4f6f9; }
        header { background: #1d2330; color: #fff; padding: 18px 28px; }
        header h1 { margin: 0; font-size: 22px; font-weight: 600; }
        header .sub { color: #aab3c2; font-size: 13px; margin-top: 4px; font-family: ui-monospace, monospace; }
        main { display: grid; grid-template-columns: minmax(320px, 1fr); gap: 20px; padding: 20px 28px; max-width: 1400px; }
        main.with-picture { grid-template-columns: minmax(320px, 1fr) minmax(300px, 460px); }
        section { background: #fff; border-radius: 10px; padding: 16px 20px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
        h2 { font-size: 14px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 10px; }
        .bar { display: flex; height: 22px; border-radius: 11px; overflow: hidden; background: var(--open); }
        .bar div { height: 100%; transition: width .6s; }
        #percent { font-size: 34px; font-weight: 700; }
        .counts { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; margin-top: 14px; }
        .count { border-left: 4px solid; padding: 2px 10px; }
        .count b { display: block; font-size: 22px; }
        .count span { color: var(--muted); font-size: 13px; }
        .c-validated { border-color: var(--validated); } .c-running { border-color: var(--running); }
        .c-open { border-color: var(--open); } .c-failed { border-color: var(--failed); }
        .facts { display: flex; gap: 24px; margin-top: 12px; color: var(--muted); font-size: 13px; }
        .facts b { color: var(--ink); }
        #grid { display: flex; flex-wrap: wrap; gap: 2px; margin-top: 6px; }
        #grid i { width: 10px; height: 10px; border-radius: 2px; background: var(--open); }
        #grid i.v { background: var(--validated); } #grid i.r { background: var(--running); } #grid i.f { background: var(--failed); }
        table { width: 100%; border-collapse: collapse; font-size: 14px; }
        td, th { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eef0f3; }
        th { color: var(--muted); font-weight: 500; }
        td.key { font-family: ui-monospace, monospace; }
        td.n, th.n { text-align: right; }
        #picture img { width: 100%; image-rendering: pixelated; border-radius: 6px; background: #808080; }
        #status { font-size: 12px; color: var(--muted); margin-top: 10px; }
        #problem { color: var(--failed); }
        .hidden { display: none; }
        </style>
        </head>
        <body data-loaded="no">
        <header>
          <h1 id="title">Loading the job…</h1>
          <div class="sub"><span id="kernel">—</span> · job <span id="job">—</span></div>
        </header>
        <main id="main">
          <div>
            <section>
              <h2>Progress</h2>
              <div id="percent">—</div>
              <div class="bar" id="bar">
                <div id="bar-validated" style="width:0;background:var(--validated)"></div>
                <div id="bar-running" style="width:0;background:var(--running)"></div>
                <div id="bar-failed" style="width:0;background:var(--failed)"></div>
              </div>
              <div class="counts">
                <div class="count c-validated"><b id="validated">—</b><span>validated</span></div>
                <div class="count c-running"><b id="inProgress">—</b><span>in progress</span></div>
                <div class="count c-open"><b id="waiting">—</b><span>open</span></div>
                <div class="count c-failed"><b id="failed">—</b><span>failed</span></div>
              </div>
              <div class="facts">
                <div><b id="units">—</b> units</div>
                <div><b id="attempts">—</b> attempts</div>
                <div><b id="invalid">—</b> invalid results</div>
                <div><b id="records">—</b> signed records</div>
              </div>
              <div id="grid"></div>
              <div id="status">Waiting for the first report…</div>
              <div id="problem"></div>
            </section>
            <section style="margin-top:20px">
              <h2>Workers in validated quorums (<span id="workerCount">0</span>)</h2>
              <table><thead><tr><th>worker key</th><th class="n">units</th></tr></thead><tbody id="workers"></tbody></table>
            </section>
          </div>
          <section id="picture" class="hidden">
            <h2>Picture</h2>
            <img id="image" alt="the job's picture, validated tiles in colour">
          </section>
        </main>
        <script>
        "use strict";
        const token = new URLSearchParams(location.search).get("token");
        const suffix = token ? "token=" + encodeURIComponent(token) : "";
        let shownValidated = -1;
        function set(id, text) { document.getElementById(id).textContent = text; }
        function share(n, total) { return total > 0 ? (100 * n / total) + "%" : "0"; }
        function render(job) {
          const problems = [];
          if (job.problem) { problems.push("Last refresh failed: " + job.problem); }
          if (job.unreachableShards && job.unreachableShards.length > 0) {
            problems.push("No custodian answered for shards " + job.unreachableShards.join(", ") + "; their units show as open.");
          }
          if (job.unreachablePriorShards && job.unreachablePriorShards.length > 0) {
            problems.push(job.unreachablePriorShards.length + " shards of other jobs cited for workers' prior standing could not be gathered; units run alone under those leases show as open.");
          }
          set("problem", problems.join(" "));
          if (job.units === undefined) { return; }
          document.title = job.title + " · Colony";
          set("title", job.title);
          set("kernel", job.kernel);
          set("job", job.job.slice(0, 16) + "…");
          for (const key of ["validated", "inProgress", "waiting", "failed", "units", "attempts", "invalid", "records", "workerCount"]) {
            set(key, String(job[key]));
          }
          const percent = job.units > 0 ? Math.floor(100 * job.validated / job.units) : 0;
          set("percent", percent + "% validated");
          document.getElementById("bar-validated").style.width = share(job.validated, job.units);
          document.getElementById("bar-running").style.width = share(job.inProgress, job.units);
          document.getElementById("bar-failed").style.width = share(job.failed, job.units);
          const grid = document.getElementById("grid");
          grid.replaceChildren(...Array.from(job.states, (letter, unit) => {
            const cell = document.createElement("i");
            cell.className = letter;
            cell.title = "unit " + unit;
            return cell;
          }));
          const rows = document.getElementById("workers");
          rows.replaceChildren(...job.workers.map(worker => {
            const row = document.createElement("tr");
            const key = document.createElement("td");
            key.className = "key";
            key.title = worker.key;
            key.textContent = worker.short + "…";
            const units = document.createElement("td");
            units.className = "n";
            units.textContent = String(worker.validated);
            row.append(key, units);
            return row;
          }));
          set("status", (job.complete ? "Done. " : "") + "Re-verified from the custodians' signed records at "
            + new Date(job.refreshed).toLocaleTimeString() + (job.complete ? "" : "; refreshing every 2 s."));
          if (job.picture) {
            document.getElementById("picture").classList.remove("hidden");
            document.getElementById("main").classList.add("with-picture");
            if (job.validated !== shownValidated) {
              shownValidated = job.validated;
              document.getElementById("image").src = "/image.png?validated=" + job.validated + (suffix ? "&" + suffix : "");
            }
          }
          document.body.dataset.loaded = "yes";
        }
        async function refresh() {
          try {
            const response = await fetch("/api/job" + (suffix ? "?" + suffix : ""), { cache: "no-store" });
            if (!response.ok) { throw new Error(response.status + " " + (await response.text())); }
            render(await response.json());
          } catch (error) {
            set("problem", "Cannot reach colony status: " + error.message);
          }
          setTimeout(refresh, 2000);
        }
        refresh();
        </script>
        </body>
        </html>
        """
}
