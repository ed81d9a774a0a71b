// The 360° tab's viewer: an equirectangular Pannellum viewer (vendored in ./pannellum/, no CDN) inside a gr.HTML
// component. app.py creates gr.HTML(js_on_load="studioPanoViewer(element, props, watch)"); props.value is the URL
// of the texture (the panorama with the chosen stream blended over it), followed by
// "#yaw=Y&pitch=P&hot=y1,p1;y2,p2;y3,p3&pano=ID" (models/studio/panorama_tab.py `viewer_fragment`):
// - a new ID (a new prediction) opens facing (Y, P), the strongest peak of the model's map;
// - the same ID (a new stream or colours for the same panorama) keeps the visitor's current view;
// - each "hot" pair is a hotspot; a click turns the view to it.
// The host element exposes data-texture (the URL asked for), data-loaded (the URL Pannellum finished loading),
// data-pano (the panorama ID shown) and, as host.panoViewer, the Pannellum viewer itself, for tests.
window.studioPanoViewer = function (element, props, watch) {
  const host = element.querySelector(".pano-host");
  let viewer = null;
  let shownPano = "";

  function parse(value) {
    const [url, fragment] = (value || "").split("#");
    const params = new URLSearchParams(fragment || "");
    const number = (key) => (params.has(key) && isFinite(parseFloat(params.get(key))) ? parseFloat(params.get(key)) : 0);
    const hot = (params.get("hot") || "").split(";").filter(Boolean).map((pair) => pair.split(",").map(parseFloat))
      .filter((pair) => pair.length === 2 && pair.every(isFinite));
    return { url, yaw: number("yaw"), pitch: number("pitch"), hot, pano: params.get("pano") || "" };
  }

  function hotspots(peaks) {
    return peaks.map(([yaw, pitch], i) => ({
      yaw, pitch, type: "info", cssClass: "pnlm-hotspot pnlm-sprite pnlm-info pano-peak",
      text: i === 0 ? "Strongest peak: click to turn here" : `Peak ${i + 1}: click to turn here`,
      clickHandlerFunc: () => { if (viewer) viewer.lookAt(pitch, yaw, viewer.getHfov(), 600); },
    }));
  }

  function show(value) {
    const target = parse(value);
    let view = { yaw: target.yaw, pitch: target.pitch, hfov: 100 };
    if (viewer) {
      try {
        if (target.pano && target.pano === shownPano) {
          view = { yaw: viewer.getYaw(), pitch: viewer.getPitch(), hfov: viewer.getHfov() };
        }
        viewer.destroy();
      } catch (err) {
        console.warn("pano viewer: destroy failed", err);
      }
      viewer = null;
      host.panoViewer = null;
    }
    host.innerHTML = "";
    host.dataset.texture = target.url || "";
    host.dataset.loaded = "";
    host.dataset.error = "";
    host.dataset.pano = target.pano;
    shownPano = target.pano;
    if (!target.url) {
      host.innerHTML = '<p class="pano-empty">Predict a panorama to explore it here in 360°.</p>';
      return;
    }
    viewer = pannellum.viewer(host, Object.assign({
      type: "equirectangular",
      panorama: target.url,
      autoLoad: true,
      compass: false,
      showFullscreenCtrl: true,
      hotSpots: hotspots(target.hot),
    }, view));
    host.panoViewer = viewer;
    viewer.on("load", () => { host.dataset.loaded = target.url; });
    viewer.on("error", (msg) => { host.dataset.error = String(msg); });
  }

  show(props.value);
  watch("value", () => show(props.value));
};
