// The 360° tab's viewer: an equirectangular Pannellum viewer (vendored in ./pannellum/, no CDN) inside a gr.HTML
// component. app.py creates gr.HTML(js_on_load="studioPanoViewer(element, props, watch)"); props.value is the URL
// of the texture (the panorama with the chosen stream blended over it). Every new value reloads the viewer and
// keeps the current view direction. The host element exposes data-texture (the URL asked for) and data-loaded
// (the URL Pannellum finished loading) for tests.
window.studioPanoViewer = function (element, props, watch) {
  const host = element.querySelector(".pano-host");
  let viewer = null;

  function show(url) {
    let view = {};
    if (viewer) {
      try {
        view = { yaw: viewer.getYaw(), pitch: viewer.getPitch(), hfov: viewer.getHfov() };
        viewer.destroy();
      } catch (err) {
        console.warn("pano viewer: destroy failed", err);
      }
      viewer = null;
    }
    host.innerHTML = "";
    host.dataset.texture = url || "";
    host.dataset.loaded = "";
    host.dataset.error = "";
    if (!url) {
      host.innerHTML = '<p class="pano-empty">Predict a panorama to explore it here in 360°.</p>';
      return;
    }
    viewer = pannellum.viewer(host, Object.assign({
      type: "equirectangular",
      panorama: url,
      autoLoad: true,
      compass: false,
      showFullscreenCtrl: true,
      hfov: 100,
    }, view));
    viewer.on("load", () => { host.dataset.loaded = url; });
    viewer.on("error", (msg) => { host.dataset.error = String(msg); });
  }

  show(props.value);
  watch("value", () => show(props.value));
};
