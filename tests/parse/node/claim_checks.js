// Parse's standard installation flow through the real `parse` npm SDK: the app saves its current
// installation at launch signed out, logs in, then `installation.set('user', currentUser)` and
// saves again. Every REST call is recorded, so the claim is seen to be the PUT itself (the SDK
// would otherwise fall back to registering again when the PUT answers 101).
// Usage: node claim_checks.js <serverURL> <appId> <publishableKey> <secretKey>
// Prints one JSON line: {"installation": objectId, "user": id, "calls": [[method, path, code]]}.
const Parse = require('parse/node');
const assert = require('assert');

const [serverURL, appId, jsKey, masterKey] = process.argv.slice(2);
Parse.initialize(appId, jsKey, masterKey);
Parse.serverURL = serverURL;
Parse.User.enableUnsafeCurrentUser();
const master = { useMasterKey: true };

const calls = [];
const rest = Parse.CoreManager.getRESTController();
Parse.CoreManager.setRESTController({
  ...rest,
  request(method, path, data, options) {
    return rest.request(method, path, data, options).then(
      (answer) => { calls.push([method, path, 0]); return answer; },
      (err) => { calls.push([method, path, err.code]); throw err; },
    );
  },
});

async function main() {
  const installation = await Parse.Installation.currentInstallation();
  installation.set('deviceType', 'android');
  installation.set('pushType', 'gcm');
  installation.set('deviceToken', 'claim-' + 'c'.repeat(30));
  await installation.save(); // signed out, at launch
  assert.ok(installation.id);
  assert.strictEqual(installation.get('user'), undefined);

  const fan = await Parse.User.signUp('claimer', 'a long claimer passphrase');
  installation.set('user', Parse.User.current());
  calls.length = 0;
  await installation.save();
  assert.deepStrictEqual(calls, [['PUT', `classes/_Installation/${installation.id}`, 0]]);
  const fetched = await new Parse.Query(Parse.Installation).get(installation.id, master);
  assert.strictEqual(fetched.get('user').id, fan.id);
  assert.strictEqual(fetched.get('installationId'), installation.get('installationId'));

  // Another signed-in user on another device cannot take it: the PUT is 101, as for a missing
  // object (the SDK then tries to register it anew, which needs the token it does not have).
  await Parse.User.logOut();
  const other = await Parse.User.signUp('taker', 'another long passphrase');
  const stolen = Parse.Installation.createWithoutData(installation.id);
  stolen.set('user', other);
  calls.length = 0;
  await assert.rejects(stolen.save(null, { installationId: 'another-device' }));
  assert.deepStrictEqual(calls[0], ['PUT', `classes/_Installation/${installation.id}`, 101]);
  const after = await new Parse.Query(Parse.Installation).get(installation.id, master);
  assert.strictEqual(after.get('user').id, fan.id);
  console.log(JSON.stringify({ installation: installation.id, user: fan.id, calls }));
}

main().catch((err) => {
  console.error((err && (err.stack || err.message)) + (err && err.code ? ` (code ${err.code})` : ''));
  process.exit(1);
});
