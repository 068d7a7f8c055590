// Parse.Installation with app-defined fields, then Parse.Push.send with a where over them,
// through the real `parse` npm SDK against a live Basalt /parse/ mount.
// Usage: node installation_checks.js <serverURL> <appId> <publishableKey> <secretKey>
// Prints one JSON line: {"pushes": {name: pushStatusId}, "installations": {name: objectId}, "user": id}.
const Parse = require('parse/node');
const assert = require('assert');

const [serverURL, appId, jsKey, masterKey] = process.argv.slice(2);
Parse.initialize(appId, jsKey, masterKey);
Parse.serverURL = serverURL;
Parse.User.enableUnsafeCurrentUser();
const master = { useMasterKey: true };

async function main() {
  const fan = await Parse.User.signUp('fan', 'a long fan passphrase');
  const seen = new Date('2026-12-06T10:00:00.000Z');
  const mine = new Parse.Installation();
  mine.set('deviceType', 'android');
  mine.set('pushType', 'gcm');
  mine.set('deviceToken', 'giants-fan-' + 'g'.repeat(30));
  mine.set('favoriteTeam', 'Giants');
  mine.set('appBuild', 41);
  mine.set('subscribedToNews', true);
  mine.set('lastSeen', seen);
  mine.set('user', fan); // the signed-in user's own device
  await mine.save();
  mine.increment('appBuild', 2);
  mine.unset('subscribedToNews');
  mine.addUnique('tags', 'vip');
  await mine.save();
  assert.strictEqual(mine.get('appBuild'), 43);
  // Subscribing as Parse's push guide shows: addUnique / remove on `channels`, one save each.
  mine.addUnique('channels', 'giants');
  mine.addUnique('channels', 'scores');
  await mine.save();
  mine.remove('channels', 'scores');
  await mine.save();
  assert.deepStrictEqual(mine.get('channels'), ['giants']);
  // GeoPoint, File and Bytes values and dotted keys inside an object field, as Parse Server keeps them.
  const avatar = new Parse.File('me.png', { base64: Buffer.from('not really a png').toString('base64') }, 'image/png');
  await avatar.save(master);
  mine.set('location', new Parse.GeoPoint(48.85, 2.35));
  mine.set('avatar', avatar);
  mine.set('blob', { __type: 'Bytes', base64: 'aGVsbG8=' });
  mine.set('prefs', { sound: 'bell', volume: 3 });
  await mine.save();
  mine.set('prefs.sound', 'chime');
  mine.increment('prefs.volume', 2);
  await mine.save();
  // The answer carries the increment's result, nested ({prefs: {volume: 5}}) as from Parse Server;
  // the SDK merges it over what it had before the save (the fetch below reads the whole object).
  assert.strictEqual(mine.get('prefs').volume, 5);

  // Another device cannot be claimed for the fan by a client.
  await Parse.User.logOut();
  const stranger = new Parse.Installation({ deviceType: 'android', pushType: 'gcm', deviceToken: 'jets-' + 'j'.repeat(30), favoriteTeam: 'Jets' });
  await stranger.save(null, master);
  await Parse.User.signUp('other', 'another long passphrase');
  stranger.set('user', fan);
  await assert.rejects(stranger.save(), (err) => err.code === 101 || err.code === 111);
  await Parse.User.logOut();
  const third = new Parse.Installation({ deviceType: 'android', pushType: 'gcm', deviceToken: 'giants-anon-' + 'a'.repeat(30), favoriteTeam: 'Giants', appBuild: 7 });
  await third.save();

  const fetched = await new Parse.Query(Parse.Installation).get(mine.id, master);
  assert.strictEqual(fetched.get('favoriteTeam'), 'Giants');
  assert.strictEqual(fetched.get('appBuild'), 43);
  assert.strictEqual(fetched.get('subscribedToNews'), undefined);
  assert.deepStrictEqual(fetched.get('tags'), ['vip']);
  assert.deepStrictEqual(fetched.get('channels'), ['giants']);
  assert.ok(fetched.get('lastSeen') instanceof Date && fetched.get('lastSeen').getTime() === seen.getTime());
  assert.strictEqual(fetched.get('user').id, fan.id);
  assert.ok(fetched.get('location') instanceof Parse.GeoPoint);
  assert.deepStrictEqual([fetched.get('location').latitude, fetched.get('location').longitude], [48.85, 2.35]);
  assert.ok(fetched.get('avatar') instanceof Parse.File);
  assert.strictEqual(fetched.get('avatar').name(), avatar.name());
  assert.strictEqual(fetched.get('avatar').url(), avatar.url());
  assert.deepStrictEqual(fetched.get('blob'), { __type: 'Bytes', base64: 'aGVsbG8=' });
  assert.deepStrictEqual(fetched.get('prefs'), { sound: 'chime', volume: 5 });

  const giants = await new Parse.Query(Parse.Installation).equalTo('favoriteTeam', 'Giants').find(master);
  assert.strictEqual(giants.length, 2);
  const recent = await new Parse.Query(Parse.Installation)
    .greaterThan('lastSeen', new Date('2026-01-01T00:00:00.000Z')).find(master);
  assert.deepStrictEqual(recent.map((i) => i.id), [mine.id]);

  const pushes = {};
  const byTeam = new Parse.Query(Parse.Installation).equalTo('favoriteTeam', 'Giants').lessThan('appBuild', 10);
  pushes.team = await Parse.Push.send({ where: byTeam, data: { alert: 'Giants win', title: 'Final score' } }, master);
  const fans = new Parse.Query(Parse.User).equalTo('username', 'fan');
  const byUser = new Parse.Query(Parse.Installation).matchesQuery('user', fans);
  pushes.user = await Parse.Push.send({ where: byUser, data: { alert: 'for the fan' } }, master);
  const byPointer = new Parse.Query(Parse.Installation).equalTo('user', fan).containedIn('favoriteTeam', ['Giants', 'Mets']);
  pushes.pointer = await Parse.Push.send({ where: byPointer, data: { alert: 'pointer and $in' } }, master);
  console.log(JSON.stringify({ pushes, user: fan.id, installations: { mine: mine.id, stranger: stranger.id, third: third.id } }));
}

main().catch((err) => {
  console.error((err && (err.stack || err.message)) + (err && err.code ? ` (code ${err.code})` : ''));
  process.exit(1);
});
