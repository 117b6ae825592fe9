// The view in the URL: run, image, class, method and layer go into the #fragment (the page is the path), so a
// view can be reloaded, bookmarked and shared. replaceState keeps the history to real page changes.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  hartrace: Object.assign({}, (window.dash_clientside || {}).hartrace, {
    shareState: function (run, image, target, method, layer, pathname) {
      if (!run) {
        return window.dash_clientside.no_update;  // nothing chosen yet: a shared URL being opened keeps its state
      }
      const state = new URLSearchParams();
      const fields = {run: run, image: image, class: target, method: method, layer: layer};
      Object.keys(fields).forEach(function (key) {
        if (fields[key]) { state.set(key, fields[key]); }
      });
      const fragment = state.toString();
      const url = window.location.pathname + window.location.search + (fragment ? "#" + fragment : "");
      if (url !== window.location.pathname + window.location.search + window.location.hash) {
        window.history.replaceState(window.history.state, "", url);
      }
      return fragment;
    }
  })
});
