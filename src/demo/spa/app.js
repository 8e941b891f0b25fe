// Spa Shop: the demo store's single-page layout. One document; every page
// is rendered here from the JSON API under /spa/api/ and reached with
// history.pushState. Element ids are a published contract: see
// src/demo/spa/mod.rs before renaming anything.
(() => {
  'use strict';

  const main = document.getElementById('spa-main');
  const header = document.getElementById('spa-header');
  const CART_KEY = 'spa_cart';
  const PROGRESS_KEY = 'spa_checkout';
  const SESSION_COOKIE = 'spa_sid';
  const SAVED_CARD = 'saved-card';

  // ---------------------------------------------------------------- helpers

  const esc = (text) =>
    String(text ?? '').replace(/[&<>"']/g, (c) => ({
      '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
    })[c]);

  const hasCookie = (name) =>
    document.cookie.split(';').some((pair) => pair.trim().startsWith(name + '='));

  // The session cookie is the page's to set: the API only answers a token
  // and when it expires.
  const setSessionCookie = (token, expiresAt) => {
    document.cookie = `${SESSION_COOKIE}=${token}; expires=${new Date(expiresAt).toUTCString()}; path=/; samesite=lax`;
  };
  const clearSessionCookie = () => {
    document.cookie = `${SESSION_COOKIE}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/; samesite=lax`;
  };

  // Only our own pages are places to return to after signing in.
  const safeNext = (next) =>
    next && next.startsWith('/spa/') && !next.startsWith('//') ? next : '/spa/account';

  // ------------------------------------------------------ browser storage

  // The cart lives in localStorage; the server sees it only at checkout.
  const cart = {
    read() {
      try {
        const lines = JSON.parse(localStorage.getItem(CART_KEY) || '[]');
        return Array.isArray(lines) ? lines : [];
      } catch {
        return [];
      }
    },
    write(lines) {
      localStorage.setItem(CART_KEY, JSON.stringify(lines));
    },
    clear() {
      localStorage.removeItem(CART_KEY);
    },
    add(line) {
      const lines = cart.read();
      const same = lines.find((l) => l.sku === line.sku && (l.pack ?? null) === (line.pack ?? null));
      if (same) same.qty = Math.min(99, same.qty + line.qty);
      else lines.push(line);
      cart.write(lines);
    },
    count() {
      return cart.read().reduce((n, l) => n + (Number(l.qty) || 0), 0);
    },
    // What the API needs of each line.
    posted() {
      return cart.read().map((l) => ({ sku: l.sku, pack: l.pack ?? null, qty: l.qty }));
    },
  };

  // Choices made on the checkout pages (protection, shipping, payment),
  // for this tab only; a new checkout starts afresh.
  const progress = {
    read() {
      try {
        return JSON.parse(sessionStorage.getItem(PROGRESS_KEY) || '{}') || {};
      } catch {
        return {};
      }
    },
    set(changes) {
      sessionStorage.setItem(PROGRESS_KEY, JSON.stringify({ ...progress.read(), ...changes }));
    },
    clear() {
      sessionStorage.removeItem(PROGRESS_KEY);
    },
  };

  const checkoutBody = () => ({ cart: cart.posted(), ...progress.read() });

  // ------------------------------------------------------------------ API

  // An HTML answer instead of JSON: a block or challenge page from the
  // "CDN" in front of the API.
  class FaultPage {
    constructor(html, status) {
      this.html = html;
      this.status = status;
    }
  }
  class SignedOut {}
  class ApiError {
    constructor(status, body) {
      this.status = status;
      this.body = body || {};
    }
  }

  const api = async (method, path, body) => {
    const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const resp = await fetch('/spa/api' + path, init);
    const type = resp.headers.get('content-type') || '';
    if (!type.includes('application/json')) throw new FaultPage(await resp.text(), resp.status);
    const data = await resp.json();
    if (resp.status === 401 && data.code === 'signed_out') {
      clearSessionCookie();
      throw new SignedOut();
    }
    if (!resp.ok) throw new ApiError(resp.status, data);
    return data;
  };

  // --------------------------------------------------------------- router

  // Each render bumps the counter; an answer that arrives after the user
  // moved on is dropped instead of drawing over the newer page.
  let renderSeq = 0;

  const navigate = (href) => {
    history.pushState({}, '', href);
    window.scrollTo(0, 0);
    render();
  };
  const replace = (href) => {
    history.replaceState({}, '', href);
    render();
  };

  const show = (ctx, title, html) => {
    if (ctx && ctx.seq !== renderSeq) return false;
    document.title = `${title} - Spa Shop`;
    main.innerHTML = html;
    return true;
  };

  const signinPrompt = (path) =>
    `<div id="spa-signin-prompt"><h1>Please sign in</h1>
     <p>Sign in to see this page. <a href="/spa/signin?next=${encodeURIComponent(path)}">Sign in</a></p></div>`;

  const notFound = '<h1 id="spa-not-found">Page not found</h1><p>We could not find that page.</p>';

  // Shows what went wrong in place of the page. `ctx` is null for errors
  // of actions (add, place), which invalidate any render in flight.
  const fail = (ctx, err) => {
    if (!ctx) {
      renderSeq += 1;
      ctx = { seq: renderSeq };
    }
    if (err instanceof FaultPage) {
      const doc = new DOMParser().parseFromString(err.html, 'text/html');
      show(ctx, doc.title || 'Error', doc.body ? doc.body.innerHTML : esc(err.html));
      document.title = doc.title || document.title;
    } else if (err instanceof SignedOut) {
      renderHeader({ signed_in: false });
      show(ctx, 'Please sign in', signinPrompt(location.pathname + location.search));
    } else if (err instanceof ApiError && err.status === 404) {
      show(ctx, 'Page not found', notFound);
    } else {
      const message = err instanceof ApiError ? err.body.error : String(err);
      show(ctx, 'Error', `<h1 id="spa-error">Something went wrong</h1><p>${esc(message)}</p>`);
    }
  };

  const renderHeader = (session) => {
    const who = session.signed_in
      ? `<a id="spa-account-link" href="/spa/account"><span id="spa-who">${esc(session.email)}</span></a>
         <a id="spa-orders-link" href="/spa/orders">Orders</a>
         <button id="spa-signout" type="button" data-action="signout">Sign out</button>`
      : '<a id="spa-signin-link" href="/spa/signin">Sign in</a>';
    header.innerHTML = `<a id="spa-home-link" href="/spa/">Spa Shop</a>
      <nav>${who} <a id="spa-cart-link" href="/spa/cart">Cart (<span id="spa-cart-count">${cart.count()}</span>)</a></nav>`;
  };

  const updateCartCount = () => {
    const count = document.getElementById('spa-cart-count');
    if (count) count.textContent = String(cart.count());
  };

  const render = async () => {
    renderSeq += 1;
    const url = new URL(location.href);
    const route = ROUTES.find((r) => r.path.test(url.pathname));
    const ctx = { seq: renderSeq, url, match: route ? url.pathname.match(route.path) : null };
    main.innerHTML = '<div id="spa-loading">Loading…</div>';
    try {
      const session = await api('GET', '/session');
      if (ctx.seq !== renderSeq) return;
      renderHeader(session);
      ctx.session = session;
      if (!route) return void show(ctx, 'Page not found', notFound);
      if (route.auth && !session.signed_in) {
        return void show(ctx, 'Please sign in', signinPrompt(url.pathname + url.search));
      }
      await route.view(ctx);
    } catch (err) {
      if (ctx.seq === renderSeq) fail(ctx, err);
    }
  };

  // ---------------------------------------------------------------- pages

  const homeView = async (ctx) => {
    const products = await api('GET', '/products');
    const items = products
      .map((p) => `<li><a class="spa-product-link" href="/spa/product/${esc(p.sku)}">${esc(p.name)}</a>
        <span class="spa-product-price">${esc(p.price_text)}</span></li>`)
      .join('');
    show(ctx, 'Home', `<h1>Household staples</h1><ul id="spa-products">${items}</ul>`);
  };

  const productView = async (ctx) => {
    const sku = decodeURIComponent(ctx.match[1]);
    const pack = ctx.url.searchParams.get('pack');
    const query = pack ? `?pack=${encodeURIComponent(pack)}` : '';
    const p = await api('GET', `/products/${encodeURIComponent(sku)}${query}`);
    const packs = p.packs.length
      ? `<label>Pack size <select id="spa-pack">${p.packs
          .map((o) => `<option value="${esc(o.id)}"${o.id === p.pack ? ' selected' : ''}>${esc(o.label)} - ${esc(o.price_text)}</option>`)
          .join('')}</select></label>`
      : '';
    const buy = p.in_stock
      ? `<div id="spa-in-stock">In stock</div>
         <form id="spa-add-form" data-sku="${esc(p.sku)}">${packs}
           <label>Quantity <input id="spa-qty" name="qty" type="number" min="1" max="99" value="1"></label>
           <button id="spa-add" type="submit">Add to cart</button>
         </form>
         <div id="spa-add-result"></div>`
      : '<div id="spa-out-of-stock">Currently unavailable</div>';
    const html = `<h1 id="spa-product-title">${esc(p.name)}</h1>
      <p><span id="spa-price" data-price="${esc(p.price)}">${esc(p.price_text)}</span></p>${buy}`;
    if (!show(ctx, p.name, html)) return;
    // Structured data, rendered by script as many shops do.
    const ld = document.createElement('script');
    ld.type = 'application/ld+json';
    ld.id = 'spa-jsonld';
    ld.textContent = p.json_ld;
    main.appendChild(ld);
  };

  const signinView = (ctx) => {
    const next = safeNext(ctx.url.searchParams.get('next'));
    show(ctx, 'Sign in', `<h1>Sign in</h1>
      <form id="spa-signin-form" data-next="${esc(next)}">
        <label>Email <input id="spa-email" name="email" type="email" autocomplete="username"></label>
        <label>Password <input id="spa-password" name="password" type="password" autocomplete="current-password"></label>
        <button id="spa-signin-submit" type="submit">Sign in</button>
      </form>`);
  };

  const accountView = (ctx) => {
    show(ctx, 'Your account', `<h1 id="spa-account">Your account</h1>
      <p>Email: <span id="spa-account-email">${esc(ctx.session.email)}</span></p>
      <p><a href="/spa/orders">Your orders</a></p>`);
  };

  const cartView = (ctx) => {
    const lines = cart.read();
    if (!lines.length) {
      return show(ctx, 'Cart', '<h1>Your cart</h1><p id="spa-cart-empty">Your cart is empty</p>');
    }
    const items = lines
      .map((l) => `<li class="spa-cart-item" data-sku="${esc(l.sku)}" data-pack="${esc(l.pack ?? '')}" data-qty="${esc(l.qty)}">${esc(l.name)} × ${esc(l.qty)}</li>`)
      .join('');
    return show(ctx, 'Cart', `<h1>Your cart</h1><ul id="spa-cart-items">${items}</ul>
      <button id="spa-empty-cart" type="button" data-action="empty-cart">Empty cart</button>
      <button id="spa-checkout" type="button" data-action="checkout">Checkout</button>`);
  };

  // The checkout summary for the cart and the choices so far; an empty
  // cart goes back to the cart page.
  const summary = async () => {
    try {
      return await api('POST', '/checkout', checkoutBody());
    } catch (err) {
      if (err instanceof ApiError && err.body.code === 'empty_cart') {
        replace('/spa/cart');
        return null;
      }
      throw err;
    }
  };

  // `/spa/checkout` only decides which checkout page comes next.
  const checkoutView = async (ctx) => {
    const s = await summary();
    if (s && ctx.seq === renderSeq) replace(s.next);
  };

  // A checkout page shows only when it is the next one needed; any other
  // visit is sent on to the page that is.
  const step = (draw) => async (ctx) => {
    const s = await summary();
    if (!s || ctx.seq !== renderSeq) return;
    if (s.next !== ctx.url.pathname) return replace(s.next);
    draw(ctx, s);
  };

  const protectionView = step((ctx) => show(ctx, 'Protect your order', `
    <h1 id="protection-offer">Add a protection plan?</h1>
    <p>Cover your order against accidents for 2 years for €4.99.</p>
    <button id="protection-accept" type="button" data-action="protection-accept">Yes, protect my order</button>
    <button id="protection-decline" type="button" data-action="protection-decline">No thanks</button>`));

  const field = (id, name, label, input) =>
    `<p class="field"><label for="${id}">${label}</label> ${input} <span class="field-error" id="spa-error-${name}" hidden></span></p>`;

  const addressView = step((ctx, s) => {
    const countries = s.countries
      .map((c) => `<option value="${esc(c.code)}">${esc(c.name)}</option>`)
      .join('');
    show(ctx, 'Delivery address', `<h1>Delivery address</h1>
      <form id="spa-address-form" novalidate>
        ${field('spa-ship-name', 'name', 'Full name', '<input id="spa-ship-name" name="name" autocomplete="name">')}
        ${field('spa-ship-address', 'address', 'Address', '<input id="spa-ship-address" name="address" autocomplete="street-address">')}
        ${field('spa-ship-postal', 'postal', 'Postcode', '<input id="spa-ship-postal" name="postal_code" autocomplete="postal-code">')}
        ${field('spa-ship-country', 'country', 'Country', `<select id="spa-ship-country" name="country"><option value="">Choose a country</option>${countries}</select>`)}
        <button id="spa-address-continue" type="submit">Continue</button>
      </form>`);
  });

  const shippingView = step((ctx, s) => {
    const options = s.shipping_methods
      .map((m) => `<p><label><input type="radio" name="shipping-method" id="ship-${esc(m.id)}" value="${esc(m.id)}"${m.id === s.shipping_method ? ' checked' : ''}>
        ${esc(m.label)} - ${esc(m.fee_text)}</label></p>`)
      .join('');
    show(ctx, 'Shipping', `<h1>Shipping method</h1>
      <form id="spa-shipping-form">${options}<button id="shipping-continue" type="submit">Continue</button></form>`);
  });

  const paymentView = step((ctx) => show(ctx, 'Payment', `<h1>Payment</h1>
    <form id="spa-payment-form">
      <p><label><input type="radio" name="payment" value="${SAVED_CARD}" checked>
        <span id="spa-saved-card">Pay with saved card •••• 4242</span></label></p>
      <button id="payment-continue" type="submit">Continue</button>
    </form>`));

  const reviewView = step((ctx, s) => {
    const items = s.lines
      .map((l) => `<li class="spa-review-item" data-sku="${esc(l.sku)}" data-pack="${esc(l.pack ?? '')}" data-qty="${esc(l.qty)}">${esc(l.name)} × ${esc(l.qty)} - ${esc(l.amount_text)}</li>`)
      .join('');
    const a = s.address;
    show(ctx, 'Review your order', `<h1>Review your order</h1>
      <ul id="spa-review-items">${items}</ul>
      <p id="spa-ship-to">Ship to: ${esc(a.name)}, ${esc(a.address)}, ${esc(a.postal_code)}, ${esc(a.country_name)}</p>
      <p id="spa-shipping-method">${esc(s.shipping_text)}</p>
      <p id="spa-total">${esc(s.total_text)}</p>
      <button id="spa-place-order" type="button" data-action="place">Place order</button>`);
  });

  const confirmationView = async (ctx) => {
    let answer;
    try {
      answer = await api('GET', '/confirmation');
    } catch (err) {
      if (err instanceof ApiError && err.body.code === 'no_recent_order') {
        return void show(ctx, 'No recent order', '<p id="spa-no-recent-order">There is no recent order to confirm. <a href="/spa/orders">Your orders</a></p>');
      }
      throw err;
    }
    if (answer.confirmed) {
      show(ctx, 'Thank you', `<h1 id="spa-confirmation">${esc(answer.message)}</h1>`);
    } else {
      show(ctx, 'Something went wrong', `<h1 id="spa-order-problem">${esc(answer.message)}</h1>
        <p><a href="/spa/orders">Your orders</a></p>`);
    }
  };

  const ordersView = async (ctx) => {
    const orders = await api('GET', '/orders');
    if (!orders.length) {
      return void show(ctx, 'Your orders', '<h1>Your orders</h1><p id="spa-orders-empty">You have not placed any orders yet</p>');
    }
    const rows = orders
      .map((o) => `<li class="order-row" data-order="${esc(o.order_number)}">
        <span class="order-id">${esc(o.order_number)}</span>
        <span class="order-date">${esc(o.date)}</span>
        <span class="order-total">${esc(o.total_text)}</span>
        <ul class="order-items">${o.items
          .map((i) => `<li class="order-item" data-sku="${esc(i.sku)}" data-qty="${esc(i.qty)}">${esc(i.name)} × ${esc(i.qty)}</li>`)
          .join('')}</ul></li>`)
      .join('');
    show(ctx, 'Your orders', `<h1>Your orders</h1><ol id="spa-orders">${rows}</ol>`);
  };

  // The pages, as data: the first whose pattern matches the path renders.
  const ROUTES = [
    { path: /^\/spa\/?$/, view: homeView },
    { path: /^\/spa\/product\/([^/]+)$/, view: productView },
    { path: /^\/spa\/signin$/, view: signinView },
    { path: /^\/spa\/account$/, view: accountView, auth: true },
    { path: /^\/spa\/cart$/, view: cartView, auth: true },
    { path: /^\/spa\/orders$/, view: ordersView, auth: true },
    { path: /^\/spa\/checkout$/, view: checkoutView, auth: true },
    { path: /^\/spa\/checkout\/protection$/, view: protectionView, auth: true },
    { path: /^\/spa\/checkout\/address$/, view: addressView, auth: true },
    { path: /^\/spa\/checkout\/shipping$/, view: shippingView, auth: true },
    { path: /^\/spa\/checkout\/payment$/, view: paymentView, auth: true },
    { path: /^\/spa\/checkout\/review$/, view: reviewView, auth: true },
    { path: /^\/spa\/confirmation$/, view: confirmationView, auth: true },
  ];

  // -------------------------------------------------------- forms, actions

  const showFieldError = (form, id, message) => {
    const slot = form.querySelector(`#${id}`);
    if (!slot) return;
    slot.textContent = message;
    slot.hidden = false;
  };

  const clearFieldErrors = (form) => {
    form.querySelectorAll('.field-error').forEach((e) => {
      e.textContent = '';
      e.hidden = true;
    });
  };

  // Address rules checked before posting (the server checks them too).
  const ADDRESS_RULES = [
    { input: 'spa-ship-name', key: 'name', error: 'spa-error-name', ok: (v) => v.trim() !== '', message: 'Please enter your name' },
    { input: 'spa-ship-address', key: 'address', error: 'spa-error-address', ok: (v) => v.trim() !== '', message: 'Please enter your address' },
    { input: 'spa-ship-postal', key: 'postal_code', error: 'spa-error-postal', ok: (v) => /\d/.test(v), message: 'Postcode not valid' },
    { input: 'spa-ship-country', key: 'country', error: 'spa-error-country', ok: (v) => v !== '', message: 'Please choose a country' },
  ];

  const FORMS = {
    'spa-signin-form': async (form) => {
      const email = form.querySelector('#spa-email').value.trim();
      const password = form.querySelector('#spa-password').value;
      try {
        const answer = await api('POST', '/signin', { email, password });
        setSessionCookie(answer.token, answer.expires_at);
        navigate(form.dataset.next);
      } catch (err) {
        if (!(err instanceof ApiError && err.body.code === 'bad_credentials')) return fail(null, err);
        let error = form.querySelector('#spa-signin-error');
        if (!error) {
          error = document.createElement('p');
          error.id = 'spa-signin-error';
          form.prepend(error);
        }
        error.textContent = 'Wrong email or password';
      }
    },

    'spa-add-form': async (form) => {
      const pack = form.querySelector('#spa-pack');
      const qty = Number(form.querySelector('#spa-qty').value);
      const result = document.getElementById('spa-add-result');
      const button = form.querySelector('#spa-add');
      button.disabled = true;
      try {
        const answer = await api('POST', '/cart/check', {
          sku: form.dataset.sku,
          pack: pack ? pack.value : null,
          qty: Number.isInteger(qty) ? qty : 0,
        });
        if (!form.isConnected) return;
        const l = answer.line;
        cart.add({ sku: l.sku, pack: l.pack, qty: l.qty, name: l.name, price: l.price });
        updateCartCount();
        result.innerHTML = '<div id="spa-toast" role="status">Added to cart</div>';
      } catch (err) {
        if (err instanceof SignedOut) {
          return navigate(`/spa/signin?next=${encodeURIComponent(location.pathname + location.search)}`);
        }
        if (err instanceof ApiError && err.body.code === 'out_of_stock') return render();
        if (err instanceof ApiError && err.status === 400 && form.isConnected) {
          result.innerHTML = `<p id="spa-add-error">${esc(err.body.error)}</p>`;
          return;
        }
        fail(null, err);
      } finally {
        button.disabled = false;
      }
    },

    'spa-address-form': async (form) => {
      clearFieldErrors(form);
      const values = {};
      let valid = true;
      for (const rule of ADDRESS_RULES) {
        const value = form.querySelector(`#${rule.input}`).value;
        values[rule.key] = value;
        if (!rule.ok(value)) {
          showFieldError(form, rule.error, rule.message);
          valid = false;
        }
      }
      if (!valid) return;
      try {
        await api('POST', '/address', values);
        navigate('/spa/checkout');
      } catch (err) {
        if (!(err instanceof ApiError && err.body.code === 'invalid')) return fail(null, err);
        for (const rule of ADDRESS_RULES) {
          const message = err.body.errors[rule.key];
          if (message) showFieldError(form, rule.error, message);
        }
      }
    },

    'spa-shipping-form': (form) => {
      const chosen = form.querySelector('input[name="shipping-method"]:checked');
      if (!chosen) return;
      progress.set({ shipping_method: chosen.value });
      navigate('/spa/checkout');
    },

    'spa-payment-form': () => {
      progress.set({ payment: SAVED_CARD });
      navigate('/spa/checkout');
    },
  };

  const ACTIONS = {
    'empty-cart': () => {
      cart.clear();
      progress.clear();
      render();
    },
    checkout: () => {
      progress.clear();
      navigate('/spa/checkout');
    },
    'protection-decline': () => {
      progress.set({ protection: false });
      navigate('/spa/checkout');
    },
    'protection-accept': () => {
      progress.set({ protection: true });
      navigate('/spa/checkout');
    },
    place: async (button) => {
      button.disabled = true;
      try {
        await api('POST', '/orders', checkoutBody());
        cart.clear();
        progress.clear();
        updateCartCount();
        navigate('/spa/confirmation');
      } catch (err) {
        button.disabled = false;
        if (err instanceof ApiError && err.body.code === 'pending') return navigate(err.body.next);
        fail(null, err);
      }
    },
    signout: async () => {
      try {
        await api('POST', '/signout');
      } finally {
        clearSessionCookie();
        navigate('/spa/');
      }
    },
  };

  // Internal links become pushState navigations; anything else (another
  // origin, a new tab, a modified click) is left to the browser.
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0) return;
    const target = event.target instanceof Element ? event.target : null;
    const button = target && target.closest('[data-action]');
    if (button && ACTIONS[button.dataset.action]) {
      event.preventDefault();
      ACTIONS[button.dataset.action](button);
      return;
    }
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = target && target.closest('a[href]');
    if (!link || (link.target && link.target !== '_self')) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || !(url.pathname === '/spa' || url.pathname.startsWith('/spa/'))) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });

  // Every form is handled here: a submit never loads a document.
  document.addEventListener('submit', (event) => {
    event.preventDefault();
    const handler = FORMS[event.target.id];
    if (handler) handler(event.target);
  });

  // Picking a pack size re-renders the product with that size.
  document.addEventListener('change', (event) => {
    if (event.target.id !== 'spa-pack') return;
    const url = new URL(location.href);
    url.searchParams.set('pack', event.target.value);
    replace(url.pathname + url.search);
  });

  window.addEventListener('popstate', render);

  // -------------------------------------------------------- cookie banner

  // A consent wall over the whole viewport until Accept sets the cookie.
  const consentBanner = () => {
    if (hasCookie('consent')) return;
    const banner = document.createElement('div');
    banner.id = 'cookie-banner';
    banner.setAttribute('role', 'dialog');
    banner.setAttribute('aria-modal', 'true');
    banner.innerHTML = `<div class="cookie-panel">
      <p>We use cookies to run this shop and to understand how it is used.</p>
      <button id="cookie-accept" type="button">Accept all cookies</button></div>`;
    banner.querySelector('#cookie-accept').addEventListener('click', () => {
      document.cookie = 'consent=yes; max-age=31536000; path=/; samesite=lax';
      banner.remove();
    });
    document.body.appendChild(banner);
  };

  consentBanner();
  render();
})();
