// Demo storefront behaviour: a localStorage cart reported to Linger through window.linger.
(function () {
  "use strict";
  var KEY = "demo.cart";
  var FREE_SHIPPING = 75;
  function load() { try { return JSON.parse(localStorage.getItem(KEY)) || []; } catch (e) { return []; } }
  function save(items) { localStorage.setItem(KEY, JSON.stringify(items)); report(items); render(items); }
  function total(items) { return Math.round(items.reduce(function (s, i) { return s + i.price * i.qty; }, 0) * 100) / 100; }
  function money(n) { return "\u20ac" + n.toFixed(2); }
  function report(items) {
    window.linger("cart", { items: items, total: total(items), currency: "EUR" });
  }
  function el(tag, text, cls) { var e = document.createElement(tag); if (text != null) e.textContent = text; if (cls) e.className = cls; return e; }

  function add(id, name, price, qty) {
    var items = load();
    var line = items.find(function (i) { return i.id === id; });
    if (line) line.qty += qty;
    else items.push({ id: id, name: name, price: price, qty: qty, url: location.origin + "/demo/p/" + id,
                      image: location.origin + "/demo/img/" + id + ".svg" });
    save(items);
  }

  function render(items) {
    var count = items.reduce(function (s, i) { return s + i.qty; }, 0);
    var badge = document.getElementById("cart-count");
    if (badge) badge.textContent = String(count);
    var lines = document.getElementById("cart-lines") || document.getElementById("summary");
    if (lines) {
      lines.textContent = "";
      if (!items.length) {
        var p = el("p", "Your cart is empty. ", "empty"); var a = el("a", "Keep shopping"); a.href = "/demo";
        p.appendChild(a); lines.appendChild(p);
      }
      items.forEach(function (i) {
        var row = el("div", null, "line");
        row.appendChild(el("span", i.qty + " \u00d7 " + i.name));
        row.appendChild(el("span", money(i.price * i.qty)));
        if (document.body.dataset.kind === "cart") {
          var rm = el("button", "Remove"); rm.setAttribute("aria-label", "Remove " + i.name);
          rm.addEventListener("click", function () { save(load().filter(function (x) { return x.id !== i.id; })); });
          row.appendChild(rm);
        }
        lines.appendChild(row);
      });
    }
    ["cart-total", "checkout-total"].forEach(function (id) { var t = document.getElementById(id); if (t) t.textContent = money(total(items)); });
    var hint = document.getElementById("ship-hint");
    if (hint) { var left = FREE_SHIPPING - total(items); hint.textContent = left > 0 && items.length ? "Add " + money(left) + " more for free shipping." : (items.length ? "You get free shipping." : ""); }
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button.add");
    if (!b) return;
    var qtyInput = document.getElementById("qty");
    var qty = b.id === "add" && qtyInput ? Math.max(1, parseInt(qtyInput.value, 10) || 1) : 1;
    add(b.dataset.id, b.dataset.name, parseFloat(b.dataset.price), qty);
    b.textContent = "Added \u2713";
    setTimeout(function () { b.textContent = "Add to cart"; }, 1200);
  });

  var form = document.getElementById("checkout-form");
  if (form) form.addEventListener("submit", function (e) {
    e.preventDefault();
    var items = load(); var err = document.getElementById("form-error");
    if (!items.length) { err.textContent = "Your cart is empty."; return; }
    var email = document.getElementById("email").value.trim();
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) { err.textContent = "Please enter a valid email address."; return; }
    var missing = ["name", "address", "city"].filter(function (id) { return !document.getElementById(id).value.trim(); });
    if (missing.length) { err.textContent = "Please fill in: " + missing.join(", ") + "."; return; }
    var order = "FN-" + Date.now().toString(36).toUpperCase();
    window.linger("purchase", { order: order, total: total(items), currency: "EUR" });
    localStorage.setItem(KEY, "[]");
    report([]);
    location.href = "/demo/thanks?order=" + encodeURIComponent(order);
  });

  var oid = document.getElementById("order-id");
  if (oid) oid.textContent = new URLSearchParams(location.search).get("order") || "";

  var items = load();
  render(items);
  report(items);
})();
