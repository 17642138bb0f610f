/*
 * konbini network: a Stripe.js stand-in for konbini payments.
 *
 * A merchant's page loads this script from the network (<script src="NETWORK/js/v3/stripe.js">)
 * where it would load https://js.stripe.com/v3/, and calls what Stripe.js defines for konbini:
 *
 *   const stripe = Stripe('pk_test_...', { locale: 'ja' });
 *   const { paymentIntent, error } = await stripe.confirmKonbiniPayment(clientSecret, {
 *     payment_method: { billing_details: { name, email } },
 *     payment_method_options: { konbini: { confirmation_number: phone } },
 *   }, { handleActions: true });
 *   const { paymentIntent } = await stripe.retrievePaymentIntent(clientSecret);
 *   const { paymentMethod } = await stripe.createPaymentMethod({ type: 'konbini', billing_details });
 *
 * data.payment_method is either a PaymentMethod's id ('pm_...', kept by the network) or its
 * details ({billing_details: {name, email, phone, address}}), sent as payment_method_data.
 *
 * The signatures and results are Stripe.js's (stripe-js types/stripe-js/stripe.d.ts and
 * payment-intents.d.ts): promises that resolve with {paymentIntent} or {error}, never reject
 * for an API error; a malformed argument throws an IntegrationError at once, as Stripe.js does.
 * With handleActions true (the default) a payment that needs the customer to pay at a store
 * shows the hosted voucher in an overlay, and the promise resolves when the customer closes
 * it; with false it resolves at once and the page shows paymentIntent.next_action itself.
 *
 * It talks to the network's merchant API with the publishable key as a bearer token. The
 * network answers a publishable key only for the PaymentIntent whose client_secret it sends,
 * and only the fields Stripe shows a publishable key.
 */
(function () {
  'use strict';

  var SCRIPT_PATH = '/js/v3/stripe.js';
  var OVERLAY_ID = 'konbini-stripe-voucher';

  // The network this script came from: its address up to /js/v3/stripe.js.
  var networkBase = (function () {
    var script = document.currentScript;
    if (!script || !script.src) return window.location.origin;
    var url = new URL(script.src, window.location.href);
    var path = url.pathname;
    var at = path.lastIndexOf(SCRIPT_PATH);
    return url.origin + (at > 0 ? path.slice(0, at) : '');
  })();

  function IntegrationError(message) {
    var e = new Error(message);
    e.name = 'IntegrationError';
    return e;
  }

  // Bracket notation, as Stripe's form bodies: a[b][c]=v, arrays a[0]=v.
  function encode(params) {
    var pairs = [];
    function walk(prefix, value) {
      if (value === undefined || value === null) return;
      if (Array.isArray(value)) {
        value.forEach(function (v, i) { walk(prefix + '[' + i + ']', v); });
      } else if (typeof value === 'object') {
        Object.keys(value).forEach(function (k) {
          walk(prefix ? prefix + '[' + k + ']' : k, value[k]);
        });
      } else {
        pairs.push(encodeURIComponent(prefix) + '=' + encodeURIComponent(String(value)));
      }
    }
    walk('', params);
    return pairs.join('&');
  }

  function paymentIntentId(clientSecret, method) {
    var match = typeof clientSecret === 'string' && /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/.exec(clientSecret);
    if (!match) {
      throw IntegrationError(
        'Invalid value for ' + method + ': clientSecret should be a client secret of the form ${id}_secret_${secret}. You specified: ' +
          String(clientSecret) + '.'
      );
    }
    return match[1];
  }

  function StripeInstance(key, options) {
    this._key = key;
    this._locale = (options && options.locale) || 'auto';
  }

  StripeInstance.prototype._request = function (method, path, params) {
    var query = encode(params);
    var url = networkBase + path + (method === 'GET' && query ? '?' + query : '');
    var init = {
      method: method,
      headers: { Authorization: 'Bearer ' + this._key },
      credentials: 'omit',
    };
    if (method !== 'GET') {
      init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
      init.body = query;
    }
    return fetch(url, init).then(
      function (response) {
        return response.json().then(
          function (body) {
            if (response.ok) return { body: body };
            return { error: (body && body.error) || { type: 'api_error', message: 'HTTP ' + response.status } };
          },
          function () {
            return { error: { type: 'api_error', message: 'The network answered HTTP ' + response.status + ' without JSON.' } };
          }
        );
      },
      function (e) {
        return { error: { type: 'api_connection_error', message: 'Could not reach the network at ' + networkBase + ': ' + e.message } };
      }
    );
  };

  // The page's language for the voucher: the locale given to Stripe(), or the browser's.
  StripeInstance.prototype._english = function () {
    var locale = this._locale === 'auto' ? (navigator.language || 'ja') : this._locale;
    return !/^ja\b/i.test(locale);
  };

  // Show the hosted voucher over the page; resolve when the customer closes it.
  StripeInstance.prototype._showVoucher = function (voucherUrl) {
    var english = this._english();
    return new Promise(function (resolve) {
      var old = document.getElementById(OVERLAY_ID);
      if (old) old.remove();
      var overlay = document.createElement('div');
      overlay.id = OVERLAY_ID;
      overlay.setAttribute('role', 'dialog');
      overlay.setAttribute('aria-modal', 'true');
      overlay.setAttribute('aria-label', english ? 'Konbini payment voucher' : 'コンビニお支払い票');
      overlay.style.cssText =
        'position:fixed;inset:0;z-index:2147483647;background:rgba(0,0,0,.55);display:flex;flex-direction:column;align-items:center;justify-content:center;padding:12px;box-sizing:border-box';
      var close = document.createElement('button');
      close.type = 'button';
      close.textContent = english ? 'Close' : '閉じる';
      close.setAttribute('data-konbini-voucher-close', '');
      close.style.cssText = 'align-self:flex-end;margin:0 0 8px;padding:8px 16px;font-size:16px;border:0;border-radius:6px;background:#fff;cursor:pointer';
      var frame = document.createElement('iframe');
      var url = new URL(voucherUrl);
      if (english) url.searchParams.set('lang', 'en');
      frame.src = url.href;
      frame.title = english ? 'Konbini payment voucher' : 'コンビニお支払い票';
      frame.style.cssText = 'width:100%;max-width:720px;flex:1;border:0;border-radius:8px;background:#fff';
      overlay.appendChild(close);
      overlay.appendChild(frame);
      function done() {
        document.removeEventListener('keydown', onKey);
        overlay.remove();
        resolve();
      }
      function onKey(e) {
        if (e.key === 'Escape') done();
      }
      close.addEventListener('click', done);
      document.addEventListener('keydown', onKey);
      document.body.appendChild(overlay);
      close.focus();
    });
  };

  StripeInstance.prototype.confirmKonbiniPayment = function (clientSecret, data, options) {
    var id = paymentIntentId(clientSecret, 'confirmKonbiniPayment');
    if (data !== undefined && (data === null || typeof data !== 'object')) {
      throw IntegrationError('Invalid value for confirmKonbiniPayment: data should be an object. You specified: ' + String(data) + '.');
    }
    var handleActions = !(options && options.handleActions === false);
    var params = { client_secret: clientSecret };
    Object.keys(data || {}).forEach(function (k) {
      if (k === 'payment_method') return;
      params[k] = data[k];
    });
    var pm = data && data.payment_method;
    if (typeof pm === 'string') {
      params.payment_method = pm;
    } else if (pm && typeof pm === 'object') {
      var pmData = { type: 'konbini' };
      Object.keys(pm).forEach(function (k) { pmData[k] = pm[k]; });
      params.payment_method_data = pmData;
    } else if (pm !== undefined) {
      throw IntegrationError('Invalid value for confirmKonbiniPayment: payment_method should be a PaymentMethod id or an object with billing_details.');
    }
    var self = this;
    return this._request('POST', '/v1/payment_intents/' + encodeURIComponent(id) + '/confirm', params).then(function (r) {
      if (r.error) return { error: r.error };
      var pi = r.body;
      var action = pi.next_action;
      if (handleActions && pi.status === 'requires_action' && action && action.type === 'konbini_display_details' &&
          action.konbini_display_details.hosted_voucher_url) {
        return self._showVoucher(action.konbini_display_details.hosted_voucher_url).then(function () {
          return { paymentIntent: pi };
        });
      }
      return { paymentIntent: pi };
    });
  };

  // Stripe.js's createPaymentMethod(paymentMethodData): a PaymentMethod made with the
  // publishable key (here of type konbini, the network's only type), resolved as
  // {paymentMethod} or {error}; its id can then be given to confirmKonbiniPayment. Only the
  // object form: the older (type, element, data) form needs Elements, which this stand-in
  // does not have.
  StripeInstance.prototype.createPaymentMethod = function (data) {
    if (!data || typeof data !== 'object' || Array.isArray(data)) {
      throw IntegrationError('Invalid value for createPaymentMethod: data should be an object with type and billing_details. You specified: ' + String(data) + '.');
    }
    return this._request('POST', '/v1/payment_methods', data).then(function (r) {
      return r.error ? { error: r.error } : { paymentMethod: r.body };
    });
  };

  StripeInstance.prototype.retrievePaymentIntent = function (clientSecret) {
    var id = paymentIntentId(clientSecret, 'retrievePaymentIntent');
    return this._request('GET', '/v1/payment_intents/' + encodeURIComponent(id), { client_secret: clientSecret }).then(function (r) {
      return r.error ? { error: r.error } : { paymentIntent: r.body };
    });
  };

  function Stripe(key, options) {
    if (typeof key !== 'string' || key === '') {
      throw IntegrationError('Please call Stripe() with your publishable key. You used an empty string.');
    }
    if (/^(sk|rk)_/.test(key)) {
      throw IntegrationError('You should not use your secret key with Stripe.js. Please pass a publishable key instead.');
    }
    if (!/^pk_/.test(key)) {
      throw IntegrationError('Invalid value for Stripe(): apiKey should be a publishable key (pk_test_...). You specified: ' + key + '.');
    }
    return new StripeInstance(key, options);
  }

  Stripe.version = 3;
  window.Stripe = Stripe;
})();
