/* global module */
// autocannon setupClient for scripts/bench/api.ts (worker threads need a file, not a function): every connection
// starts its request list at a random offset, so connections do not all hit the same sender at the same moment.
module.exports = function setupClient(client) {
  const requests = client.opts.requests;
  if (!Array.isArray(requests) || requests.length < 2) return;
  const k = Math.floor(Math.random() * requests.length);
  client.setRequests([...requests.slice(k), ...requests.slice(0, k)]);
};
