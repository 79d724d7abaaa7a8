// siaga: small glue for htmx (CSRF header on every request is set on <body hx-headers>).
document.addEventListener("htmx:sseError", function () { document.body.classList.add("offline"); });
document.addEventListener("htmx:sseOpen", function () { document.body.classList.remove("offline"); });
