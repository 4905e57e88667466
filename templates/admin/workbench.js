// The workbench's only script: a live preview of the viewpoint while it is typed. The page
// works without it (the Preview button shows the same thing after a round trip).
(function () {
  "use strict";
  var area = document.getElementById("viewpoint");
  var out = document.getElementById("viewpoint-preview");
  if (!area || !out || !window.fetch) { return; }
  var form = area.form;
  var url = form.getAttribute("data-preview");
  var timer = null;
  var seq = 0;
  function refresh() {
    var mine = ++seq;
    var body = new URLSearchParams();
    body.set("csrf_token", form.elements.csrf_token.value);
    body.set("viewpoint", area.value);
    fetch(url, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        // Sanitized on the server (the same Markdown rendering and allow-list as the email).
        if (mine === seq) { out.innerHTML = html; }
      })
      .catch(function () { /* the Preview button still works */ });
  }
  area.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
  var live = document.getElementById("viewpoint-live");
  if (live) { live.hidden = false; }
})();
