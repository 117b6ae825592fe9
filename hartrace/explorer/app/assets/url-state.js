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
    },
    // The Atlas page's layer and channel go into the query (?run=..&layer=..&channel=..), as the Inside page links
    // to a channel, so the channel shown can be reloaded, bookmarked and shared too.
    shareAtlas: function (run, layer, channel) {
      if (!run || !layer || window.location.pathname.replace(/\/+$/, "") !== "/atlas") {
        return window.dash_clientside.no_update;  // nothing shown yet: the URL being opened keeps its query
      }
      const query = new URLSearchParams({run: run, layer: layer});
      if (channel !== null && channel !== undefined) { query.set("channel", String(channel)); }
      const url = window.location.pathname + "?" + query.toString() + window.location.hash;
      if (url !== window.location.pathname + window.location.search + window.location.hash) {
        window.history.replaceState(window.history.state, "", url);
      }
      return query.toString();
    }
  })
});
