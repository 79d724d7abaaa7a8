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
