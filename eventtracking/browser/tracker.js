/*
 * eventtracking browser client: Tracker.emit(name, data).
 *
 * Events are queued and posted in batches to the endpoint of the Django app or the Flask
 * blueprint: when batchSize events are waiting, flushInterval ms after the first one, and when
 * the page is hidden or left (pagehide, visibilitychange), then with navigator.sendBeacon, which
 * the browser delivers even as the page goes away. Configuration comes from the script tag's
 * data attributes (data-endpoint, data-csrf-token, data-csrf-header, data-csrf-field) and from
 * Tracker.configure({...}):
 *
 *   endpoint       where batches go
 *   batchSize      events per request (the server accepts 50 by default)
 *   flushInterval  longest wait, in ms, before a partial batch is sent
 *   maxQueue       events kept while the endpoint cannot be reached; the oldest are dropped past it
 *   context        object, or function returning one, added to each event's context (which the
 *                  server records under "client"); the page's URL without query is always there
 *   preprocess     function(event) returning the event to send (changed or not), or null to drop it
 *   transport      function(request) replacing the delivery; request has endpoint, events, body
 *                  (URLSearchParams), headers and beacon (true on page hide); may return a Promise
 *   csrfToken      string, or function returning one; by default data-csrf-token, else the
 *                  csrftoken cookie (Django's)
 *
 * No dependencies; the script defines window.Tracker (and window.Tracker.EventTracker, the class).
 */
(function (global) {
  "use strict";

  var script = global.document && global.document.currentScript;
  var dataset = (script && script.dataset) || {};

  function readCookie(name) {
    var pairs = (global.document && global.document.cookie ? global.document.cookie.split("; ") : []);
    for (var i = 0; i < pairs.length; i++) {
      var at = pairs[i].indexOf("=");
      if (pairs[i].slice(0, at) === name) {
        return decodeURIComponent(pairs[i].slice(at + 1));
      }
    }
    return null;
  }

  function valueOf(option) {
    return typeof option === "function" ? option() : option;
  }

  function assign(target) {
    for (var i = 1; i < arguments.length; i++) {
      var source = arguments[i] || {};
      for (var key in source) {
        if (Object.prototype.hasOwnProperty.call(source, key)) {
          target[key] = source[key];
        }
      }
    }
    return target;
  }

  function pageUrl() {
    var location = global.location;
    return location ? location.origin + location.pathname : null;
  }

  function EventTracker(options) {
    this.queue = [];
    this.dropped = 0;
    this.timer = null;
    this.backoff = 0;
    this.options = {
      endpoint: dataset.endpoint || "/eventtracking/events",
      batchSize: 20,
      flushInterval: 1000,
      maxQueue: 1000,
      context: null,
      preprocess: null,
      transport: null,
      csrfToken: dataset.csrfToken || function () { return readCookie("csrftoken"); },
      csrfHeader: dataset.csrfHeader || "X-CSRFToken",
      csrfField: dataset.csrfField || "csrfmiddlewaretoken"
    };
    this.configure(options);
    var self = this;
    if (global.addEventListener) {
      global.addEventListener("pagehide", function () { self.flush(true); });
      global.document.addEventListener("visibilitychange", function () {
        if (global.document.visibilityState === "hidden") {
          self.flush(true);
        }
      });
    }
  }

  /* Change options; returns the tracker. */
  EventTracker.prototype.configure = function (options) {
    assign(this.options, options);
    return this;
  };

  /* Queue an event; it is sent with the next batch. Never throws. */
  EventTracker.prototype.emit = function (name, data) {
    try {
      var event = {
        name: String(name),
        data: data || {},
        timestamp: new Date().toISOString(),
        context: assign({page: pageUrl()}, valueOf(this.options.context))
      };
      if (this.options.preprocess) {
        event = this.options.preprocess(event);
        if (!event) {
          return;
        }
      }
      this.queue.push(event);
      if (this.queue.length > this.options.maxQueue) {
        this.dropped += this.queue.length - this.options.maxQueue;
        this.queue.splice(0, this.queue.length - this.options.maxQueue);
      }
      if (this.queue.length >= this.options.batchSize) {
        this.flush(false);
      } else {
        this.schedule(this.options.flushInterval);
      }
    } catch (error) {
      if (global.console) {
        global.console.error("Tracker.emit(" + name + ") failed", error);
      }
    }
  };

  EventTracker.prototype.schedule = function (delay) {
    if (this.timer === null) {
      var self = this;
      this.timer = setTimeout(function () { self.flush(false); }, delay);
    }
  };

  /* Send everything queued now; with beacon true, by navigator.sendBeacon (page going away). */
  EventTracker.prototype.flush = function (beacon) {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    /* A batch that fails goes back to this.queue, for a later flush: not to this loop. */
    var pending = this.queue;
    this.queue = [];
    for (var start = 0; start < pending.length; start += this.options.batchSize) {
      this.send(pending.slice(start, start + this.options.batchSize), Boolean(beacon));
    }
  };

  EventTracker.prototype.send = function (events, beacon) {
    var token = valueOf(this.options.csrfToken);
    var body = new URLSearchParams();
    var headers = {};
    if (token) {
      body.append(this.options.csrfField, token);
      headers[this.options.csrfHeader] = token;
    }
    body.append("events", JSON.stringify({events: events}));
    var request = {endpoint: this.options.endpoint, events: events, body: body, headers: headers, beacon: beacon};
    var transport = this.options.transport || defaultTransport;
    var self = this;
    /* Undelivered: queue the batch again, and retry with a backoff doubling up to a minute. */
    var requeue = function () {
      self.queue = events.concat(self.queue).slice(-self.options.maxQueue);
      self.backoff = Math.min(Math.max(2 * self.backoff, self.options.flushInterval), 60000);
      self.schedule(self.backoff);
    };
    try {
      var sent = transport(request);
      if (sent && typeof sent.then === "function") {
        sent.then(function () { self.backoff = 0; }, requeue);
      }
    } catch (error) {
      requeue();
    }
  };

  /* sendBeacon when the page goes away (falling back to fetch), fetch otherwise.
     A network failure or a 5xx rejects (the batch is queued again); a 4xx is the client's
     fault and is not retried. */
  function defaultTransport(request) {
    if (request.beacon && global.navigator && global.navigator.sendBeacon &&
        global.navigator.sendBeacon(request.endpoint, request.body)) {
      return null;
    }
    return global.fetch(request.endpoint, {
      method: "POST",
      body: request.body,
      headers: request.headers,
      credentials: "same-origin",
      keepalive: true
    }).then(function (response) {
      if (response.status >= 500) {
        throw new Error("eventtracking endpoint answered " + response.status);
      }
      if (!response.ok && global.console) {
        response.text().then(function (reason) {
          global.console.warn("eventtracking endpoint rejected a batch: " + response.status + " " + reason);
        });
      }
      return response;
    });
  }

  EventTracker.defaultTransport = defaultTransport;
  var tracker = new EventTracker();
  tracker.EventTracker = EventTracker;
  global.Tracker = tracker;
})(window);
