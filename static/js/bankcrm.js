// bankcrm: behaviour that progressive-enhances server-rendered pages. Loaded with defer;
// no inline scripts anywhere (Content-Security-Policy: script-src 'self').
document.addEventListener("htmx:responseError", function (event) {
  const status = event.detail.xhr.status;
  if (status === 401 || status === 403) {
    window.location.reload();
  }
});
