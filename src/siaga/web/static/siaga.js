// siaga: small glue for htmx (the CSRF header on every request is set on <body hx-headers>).
// <body class="live"> while the live-update stream is open, "offline" when it broke (it reconnects).
document.addEventListener("htmx:sseOpen", function () {
  document.body.classList.add("live");
  document.body.classList.remove("offline");
});
document.addEventListener("htmx:sseError", function () {
  document.body.classList.remove("live");
  document.body.classList.add("offline");
});
// A note sent from an alert's page clears its form once it is stored (no inline handler: the page runs under
// a Content-Security-Policy without 'unsafe-eval', so hx-on attributes are not used).
document.addEventListener("htmx:afterRequest", function (event) {
  var form = event.target;
  if (form && form.matches && form.matches("form.note-form") && event.detail.successful) {
    form.reset();
  }
});
