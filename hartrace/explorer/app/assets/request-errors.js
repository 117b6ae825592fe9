/* hartrace explorer: a request that fails says so in the banner at the top of the page.
 *
 * Outside debug mode Dash stays silent when a callback's request gets no answer or a non-OK one
 * (HTTP 413 for a body over the server's limit, 500, the server stopped); the page just stops
 * changing. Python exceptions in callbacks reach the same banner through the app's on_error
 * (hartrace/explorer/app/failures.py); these are the failures no Python code sees.
 * The ids are those of hartrace/explorer/app/ids.py (ERROR_BANNER, ERROR_MESSAGE).
 */
(function () {
  "use strict";

  var CALLBACK_PATH = "_dash-update-component";

  function show(message) {
    var dash = window.dash_clientside;
    if (dash && dash.set_props) {
      dash.set_props("error-message", { children: message });
      dash.set_props("error-banner", { hidden: false });
    }
  }

  function describe(status) {
    if (status === 413) {
      return "The server refused a request that was too large (HTTP 413): if it was an upload, pick a smaller file.";
    }
    if (status === 403) {
      return "The server refused this page (HTTP 403): open the explorer at the address `hartrace explore` printed.";
    }
    if (status >= 500) {
      return "The server failed to answer (HTTP " + status + "). This is a bug in hartrace, please report it " +
        "(the server's log has the details).";
    }
    return "The server refused a request (HTTP " + status + "): reload the page and try again.";
  }

  var originalFetch = window.fetch;
  window.fetch = function (resource, options) {
    var url = typeof resource === "string" ? resource : (resource && resource.url) || String(resource);
    var answer = originalFetch.apply(this, arguments);
    if (url.indexOf(CALLBACK_PATH) === -1) {
      return answer;
    }
    return answer.then(
      function (response) {
        if (!response.ok) {
          show(describe(response.status));
        }
        return response;
      },
      function (error) {
        if (!error || error.name !== "AbortError") {
          show("The explorer server is not answering: check that `hartrace explore` is still running, " +
            "then reload the page.");
        }
        throw error;
      }
    );
  };
})();
