/* global module */
// autocannon setupClient for scripts/bench/api.ts (worker threads need a file, not a function): every connection
// cycles through its own random permutation of the request list. With one shared order, connections that meet on
// the same sender serialize on its balance row and then move on together, forming convoys the direct baseline
// (a random sender per tip) never has.
module.exports = function setupClient(client) {
  const requests = [...client.opts.requests];
  for (let i = requests.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [requests[i], requests[j]] = [requests[j], requests[i]];
  }
  client.setRequests(requests);
};
