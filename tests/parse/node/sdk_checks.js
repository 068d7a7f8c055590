// Drive the real `parse` npm SDK against a live Basalt /parse/ mount.
// Usage: node sdk_checks.js <serverURL> <appId> <publishableKey> <secretKey>
// Prints one JSON line: {"passed": [...], "failed": {"check": "message"}}.
const Parse = require('parse/node');
const assert = require('assert');

const [serverURL, appId, jsKey, masterKey] = process.argv.slice(2);
Parse.initialize(appId, jsKey, masterKey);
Parse.serverURL = serverURL;

const passed = [];
const failed = {};
const master = { useMasterKey: true };

async function check(name, fn) {
  try {
    await fn();
    passed.push(name);
  } catch (err) {
    failed[name] = (err && (err.stack || err.message)) + (err && err.code ? ` (code ${err.code})` : '');
  }
}

async function main() {
  const GameScore = Parse.Object.extend('GameScore');
  let saved;

  await check('save and fetch with Parse types', async () => {
    const score = new GameScore();
    score.set('score', 1337);
    score.set('playerName', 'Sean Plott');
    score.set('cheatMode', false);
    score.set('when', new Date('2026-11-21T10:00:00.000Z'));
    score.set('place', new Parse.GeoPoint(48.85, 2.35));
    score.set('skills', ['pwnage', 'flying']);
    score.set('stats', { wins: 1, losses: 2 });
    saved = await score.save(null, master);
    assert.ok(saved.id);
    const fetched = await new Parse.Query(GameScore).get(saved.id, master);
    assert.strictEqual(fetched.get('playerName'), 'Sean Plott');
    assert.strictEqual(fetched.get('when').toISOString(), '2026-11-21T10:00:00.000Z');
    assert.ok(fetched.get('place') instanceof Parse.GeoPoint);
    assert.strictEqual(fetched.get('place').latitude, 48.85);
    assert.deepStrictEqual(fetched.get('skills'), ['pwnage', 'flying']);
    assert.ok(fetched.createdAt instanceof Date && fetched.updatedAt instanceof Date);
  });

  await check('dirty tracking, increment, add, unset', async () => {
    saved.increment('score', 5);
    saved.addUnique('skills', 'flying');
    await saved.save(null, master);
    assert.strictEqual(saved.get('score'), 1342);
    saved.add('skills', 'kicking');
    await saved.save(null, master);
    saved.unset('cheatMode');
    assert.ok(saved.dirty('cheatMode'));
    await saved.save(null, master);
    const fetched = await new Parse.Query(GameScore).get(saved.id, master);
    assert.strictEqual(fetched.get('score'), 1342);
    assert.deepStrictEqual(fetched.get('skills'), ['pwnage', 'flying', 'kicking']);
    assert.strictEqual(fetched.get('cheatMode'), undefined);
  });

  await check('saveAll and destroyAll through /batch', async () => {
    const items = [1, 2, 3, 4, 5].map((n) => new GameScore({ score: n, playerName: `p${n}` }));
    await Parse.Object.saveAll(items, master);
    assert.ok(items.every((o) => o.id));
    await Parse.Object.destroyAll(items.slice(3), master);
    const count = await new Parse.Query(GameScore).lessThanOrEqualTo('score', 5).count(master);
    assert.strictEqual(count, 3);
  });

  await check('query operators', async () => {
    const q = () => new Parse.Query(GameScore);
    let r = await q().greaterThan('score', 1).lessThan('score', 4).ascending('score').find(master);
    assert.deepStrictEqual(r.map((o) => o.get('score')), [2, 3]);
    r = await q().containedIn('playerName', ['p1', 'p3']).descending('score').find(master);
    assert.deepStrictEqual(r.map((o) => o.get('playerName')), ['p3', 'p1']);
    r = await q().notContainedIn('playerName', ['p1', 'p2', 'p3']).find(master);
    assert.deepStrictEqual(r.map((o) => o.get('playerName')), ['Sean Plott']);
    r = await q().matches('playerName', '^sean', 'i').find(master);
    assert.strictEqual(r.length, 1);
    r = await q().startsWith('playerName', 'p').ascending('score').skip(1).limit(1).find(master);
    assert.deepStrictEqual(r.map((o) => o.get('score')), [2]);
    r = await q().exists('place').find(master);
    assert.strictEqual(r.length, 1);
    r = await q().doesNotExist('place').count(master);
    assert.strictEqual(r, 3);
    r = await q().equalTo('skills', 'kicking').find(master);
    assert.strictEqual(r.length, 1);
    r = await q().containsAll('skills', ['pwnage', 'kicking']).find(master);
    assert.strictEqual(r.length, 1);
    r = await q().notEqualTo('playerName', 'p1').exists('playerName').ascending('playerName').find(master);
    assert.deepStrictEqual(r.map((o) => o.get('playerName')), ['Sean Plott', 'p2', 'p3']);
    r = await q().select('score').equalTo('playerName', 'p2').first(master);
    assert.strictEqual(r.get('score'), 2);
    assert.strictEqual(r.get('playerName'), undefined);
    r = await q().exclude('playerName').equalTo('score', 3).first(master);
    assert.strictEqual(r.get('playerName'), undefined);
    r = await q().addAscending('playerName').addDescending('score').find(master);
    assert.strictEqual(r.length, 4);
  });

  await check('compound or, and, nor', async () => {
    const a = new Parse.Query(GameScore).equalTo('score', 1);
    const b = new Parse.Query(GameScore).equalTo('score', 3);
    let r = await Parse.Query.or(a, b).ascending('score').find(master);
    assert.deepStrictEqual(r.map((o) => o.get('score')), [1, 3]);
    r = await Parse.Query.and(
      new Parse.Query(GameScore).greaterThan('score', 1),
      new Parse.Query(GameScore).lessThan('score', 3),
    ).find(master);
    assert.deepStrictEqual(r.map((o) => o.get('score')), [2]);
    r = await Parse.Query.nor(a, b).lessThan('score', 5).find(master);
    assert.deepStrictEqual(r.map((o) => o.get('score')), [2]);
  });

  await check('geo queries', async () => {
    const paris = new Parse.GeoPoint(48.85, 2.35);
    let r = await new Parse.Query(GameScore).near('place', paris).find(master);
    assert.strictEqual(r.length, 1);
    r = await new Parse.Query(GameScore).withinKilometers('place', new Parse.GeoPoint(48.9, 2.3), 20).find(master);
    assert.strictEqual(r.length, 1);
    r = await new Parse.Query(GameScore).withinKilometers('place', new Parse.GeoPoint(40, -70), 20).find(master);
    assert.strictEqual(r.length, 0);
    r = await new Parse.Query(GameScore)
      .withinGeoBox('place', new Parse.GeoPoint(48, 2), new Parse.GeoPoint(49, 3)).find(master);
    assert.strictEqual(r.length, 1);
  });

  await check('pointers, include, sub-queries', async () => {
    const Team = Parse.Object.extend('Team');
    const Player = Parse.Object.extend('Player');
    const paris = await new Team({ city: 'Paris', name: 'PSG' }).save(null, master);
    const lyon = await new Team({ city: 'Lyon', name: 'OL' }).save(null, master);
    await new Player({ name: 'a', team: paris }).save(null, master);
    await new Player({ name: 'b', team: lyon }).save(null, master);
    const withTeam = await new Parse.Query(Player).include('team').equalTo('name', 'a').first(master);
    assert.strictEqual(withTeam.get('team').get('name'), 'PSG');
    const inner = new Parse.Query(Team).equalTo('city', 'Paris');
    let r = await new Parse.Query(Player).matchesQuery('team', inner).find(master);
    assert.deepStrictEqual(r.map((o) => o.get('name')), ['a']);
    r = await new Parse.Query(Player).doesNotMatchQuery('team', inner).find(master);
    assert.deepStrictEqual(r.map((o) => o.get('name')), ['b']);
    r = await new Parse.Query(Player).equalTo('team', paris).find(master);
    assert.deepStrictEqual(r.map((o) => o.get('name')), ['a']);
    const Fan = Parse.Object.extend('Fan');
    await new Fan({ town: 'Paris' }).save(null, master);
    await new Fan({ town: 'Nice' }).save(null, master);
    r = await new Parse.Query(Fan).matchesKeyInQuery('town', 'city', new Parse.Query(Team)).find(master);
    assert.deepStrictEqual(r.map((o) => o.get('town')), ['Paris']);
    r = await new Parse.Query(Fan).doesNotMatchKeyInQuery('town', 'city', new Parse.Query(Team)).find(master);
    assert.deepStrictEqual(r.map((o) => o.get('town')), ['Nice']);
  });

  await check('include arrays of pointers, containedBy, withinPolygon, withinRadians as $centerSphere', async () => {
    const Member = Parse.Object.extend('Member');
    const Crew = Parse.Object.extend('Crew');
    const m1 = await new Member({ name: 'm1', skills: ['a'] }).save(null, master);
    const m2 = await new Member({ name: 'm2', skills: ['a', 'b'] }).save(null, master);
    await new Member({ name: 'm3', skills: ['c'] }).save(null, master);
    await new Crew({ name: 'c1', members: [m1, m2] }).save(null, master);
    const crew = await new Parse.Query(Crew).include('members').first(master);
    assert.deepStrictEqual(crew.get('members').map((m) => m.get('name')), ['m1', 'm2']);
    let r = await new Parse.Query(Member).containedBy('skills', ['a', 'b']).ascending('name').find(master);
    assert.deepStrictEqual(r.map((o) => o.get('name')), ['m1', 'm2']);
    const Spot = Parse.Object.extend('Spot');
    await new Spot({ name: 'in', at: new Parse.GeoPoint(1, 1) }).save(null, master);
    await new Spot({ name: 'out', at: new Parse.GeoPoint(5, 5) }).save(null, master);
    const square = [new Parse.GeoPoint(0, 0), new Parse.GeoPoint(0, 2), new Parse.GeoPoint(2, 2), new Parse.GeoPoint(2, 0)];
    r = await new Parse.Query(Spot).withinPolygon('at', square).find(master);
    assert.deepStrictEqual(r.map((o) => o.get('name')), ['in']);
    r = await new Parse.Query(Spot).withinPolygon('at', new Parse.Polygon(square)).find(master);
    assert.deepStrictEqual(r.map((o) => o.get('name')), ['in']);
    r = await new Parse.Query(Spot).withinRadians('at', new Parse.GeoPoint(1, 1.1), 0.01, false).find(master);
    assert.deepStrictEqual(r.map((o) => o.get('name')), ['in']);
  });

  await check('relations', async () => {
    const Post = Parse.Object.extend('Post');
    const Tag = Parse.Object.extend('Tag');
    const t1 = await new Tag({ label: 'x' }).save(null, master);
    const t2 = await new Tag({ label: 'y' }).save(null, master);
    const post = new Post({ title: 'hello' });
    post.relation('tags').add([t1, t2]);
    await post.save(null, master);
    const tags = await post.relation('tags').query().ascending('label').find(master);
    assert.deepStrictEqual(tags.map((t) => t.get('label')), ['x', 'y']);
    post.relation('tags').remove(t1);
    await post.save(null, master);
    const left = await post.relation('tags').query().find(master);
    assert.deepStrictEqual(left.map((t) => t.get('label')), ['y']);
  });

  await check('destroy and 101', async () => {
    const temp = await new GameScore({ score: 99 }).save(null, master);
    await temp.destroy(master);
    try {
      await new Parse.Query(GameScore).get(temp.id, master);
      assert.fail('expected 101');
    } catch (err) {
      assert.strictEqual(err.code, Parse.Error.OBJECT_NOT_FOUND);
    }
  });

  await check('cloud code is 141', async () => {
    try {
      await Parse.Cloud.run('hello');
      assert.fail('expected 141');
    } catch (err) {
      assert.strictEqual(err.code, Parse.Error.SCRIPT_FAILED);
    }
  });

  let alice;
  await check('users: signUp, logIn, become, current, logOut', async () => {
    Parse.User.enableUnsafeCurrentUser();
    const user = new Parse.User();
    user.set('username', 'alice');
    user.set('password', 'correct horse battery');
    user.set('email', 'alice@example.com');
    await user.signUp();
    assert.ok(user.getSessionToken().startsWith('r:'));
    assert.strictEqual(Parse.User.current().id, user.id);
    await Parse.User.logOut();
    assert.strictEqual(Parse.User.current(), null);
    alice = await Parse.User.logIn('alice', 'correct horse battery');
    assert.strictEqual(alice.get('username'), 'alice');
    const token = alice.getSessionToken();
    const again = await Parse.User.become(token);
    assert.strictEqual(again.id, alice.id);
    const checked = await Parse.User.verifyPassword('alice', 'correct horse battery');
    assert.strictEqual(checked.objectId, alice.id);
    assert.strictEqual(checked.sessionToken, undefined);
    try {
      await Parse.User.logIn('alice', 'wrong password!!');
      assert.fail('expected 101');
    } catch (err) {
      assert.strictEqual(err.code, Parse.Error.OBJECT_NOT_FOUND);
    }
    await Parse.User.requestPasswordReset('alice@example.com');
    const session = await Parse.Session.current();
    assert.ok(session.id);
    alice = Parse.User.current();
  });

  await check('ACLs and roles', async () => {
    const Diary = Parse.Object.extend('Diary');
    await new Parse.Schema('Diary').addString('text').setCLP({
      get: { '*': true }, find: { '*': true }, count: { '*': true },
      create: { '*': true }, update: { '*': true }, delete: { '*': true }, addField: {}, protectedFields: {},
    }).save();
    const entry = new Diary({ text: 'secret' });
    entry.setACL(new Parse.ACL(alice));
    await entry.save(null, { sessionToken: alice.getSessionToken() });
    const bob = new Parse.User({ username: 'bob', password: 'correct horse battery' });
    await bob.signUp();
    const bobToken = bob.getSessionToken();
    try {
      await new Parse.Query(Diary).get(entry.id, { sessionToken: bobToken });
      assert.fail('bob must not read it');
    } catch (err) {
      assert.strictEqual(err.code, Parse.Error.OBJECT_NOT_FOUND);
    }
    const roleACL = new Parse.ACL();
    roleACL.setPublicReadAccess(true);
    const role = new Parse.Role('Editors', roleACL);
    role.getUsers().add(bob);
    await role.save(null, master);
    const acl = new Parse.ACL(alice);
    acl.setRoleReadAccess('Editors', true);
    entry.setACL(acl);
    await entry.save(null, { sessionToken: alice.getSessionToken() });
    const seen = await new Parse.Query(Diary).get(entry.id, { sessionToken: bobToken });
    assert.strictEqual(seen.get('text'), 'secret');
    assert.strictEqual(seen.getACL().getRoleReadAccess('Editors'), true);
    const found = await new Parse.Query(Parse.Role).equalTo('name', 'Editors').first();
    assert.strictEqual(found.getName(), 'Editors');
    await Parse.User.logIn('alice', 'correct horse battery');
  });

  await check('files', async () => {
    const file = new Parse.File('hello.txt', { base64: Buffer.from('hello world').toString('base64') }, 'text/plain');
    await file.save();
    assert.ok(file.url().startsWith('http'));
    assert.ok(file.name().endsWith('hello.txt'));
    const Doc = Parse.Object.extend('Doc');
    const doc = await new Doc({ attachment: file }).save(null, master);
    const fetched = await new Parse.Query(Doc).get(doc.id, master);
    assert.strictEqual(fetched.get('attachment').name(), file.name());
  });

  await check('config', async () => {
    await Parse.Config.save({ welcome: 'hi', limit: 3 });
    const config = await Parse.Config.get();
    assert.strictEqual(config.get('welcome'), 'hi');
    assert.strictEqual(config.get('limit'), 3);
  });

  await check('schemas', async () => {
    const schema = new Parse.Schema('Planet');
    schema.addString('name').addNumber('mass');
    await schema.save();
    const got = await schema.get();
    assert.strictEqual(got.fields.mass.type, 'Number');
    const all = await Parse.Schema.all();
    assert.ok(all.some((s) => s.className === 'GameScore'));
  });

  await check('anonymous users', async () => {
    const user = await Parse.AnonymousUtils.logIn();
    assert.ok(user.getSessionToken().startsWith('r:'));
    assert.ok(Parse.AnonymousUtils.isLinked(user));
    await Parse.User.logOut();
  });

  await check('LiveQuery: create, enter, update, leave, delete, ACL, unsubscribe', async () => {
    Parse.liveQueryServerURL = serverURL.replace(/^http/, 'ws');
    const Live = Parse.Object.extend('Live');
    await new Parse.Schema('Live').addNumber('n').addString('tag').setCLP({
      get: { '*': true }, find: { '*': true }, count: { '*': true },
      create: { '*': true }, update: { '*': true }, delete: { '*': true }, addField: {}, protectedFields: {},
    }).save();
    const seen = [];
    const waitFor = (count) => new Promise((resolve, reject) => {
      const started = Date.now();
      const tick = () => {
        if (seen.length >= count) return resolve();
        if (Date.now() - started > 10000) return reject(new Error(`events so far: ${JSON.stringify(seen)}`));
        setTimeout(tick, 50);
      };
      tick();
    });
    const query = new Parse.Query(Live).greaterThan('n', 10);
    const sub = await query.subscribe();
    const originals = [];
    for (const kind of ['create', 'enter', 'update', 'leave', 'delete']) {
      sub.on(kind, (obj, original) => {
        seen.push([kind, obj.get('n'), obj.id]);
        // Without an original the SDK passes the raw response second.
        if (original instanceof Parse.Object) originals.push([kind, original.get('n'), original.id]);
      });
    }
    await new Promise((resolve) => (sub.subscribed ? resolve() : sub.on('open', resolve)));
    const obj = await new Live({ n: 5, tag: 'a' }).save(null, master);   // not matching: nothing
    await obj.save({ n: 20 }, master);                                   // enter
    await waitFor(1);
    await obj.save({ n: 30 }, master);                                   // update
    await waitFor(2);
    await obj.save({ n: 1 }, master);                                    // leave
    await waitFor(3);
    const other = await new Live({ n: 50 }).save(null, master);          // create
    await waitFor(4);
    await other.destroy(master);                                         // delete
    await waitFor(5);
    assert.deepStrictEqual(seen.map((e) => e[0]), ['enter', 'update', 'leave', 'create', 'delete']);
    // As from Parse Server: a delete carries the object as it last was; enter, update and leave
    // hand the handler the original too (`sub.on('update', (object, original) => ...)`).
    assert.deepStrictEqual(seen.map((e) => e[1]), [20, 30, 1, 50, 50]);
    assert.strictEqual(seen[4][2], other.id);
    assert.deepStrictEqual(originals, [['enter', 5, obj.id], ['update', 20, obj.id], ['leave', 30, obj.id]]);
    // A private object is not sent to a subscriber who may not read it.
    // (The default client above holds the master key, which sees everything, as in Parse Server.)
    const bobSession = await Parse.User.logIn('bob', 'correct horse battery');
    const bobClient = new Parse.LiveQueryClient({
      applicationId: appId, serverURL: Parse.liveQueryServerURL, javascriptKey: jsKey,
      sessionToken: bobSession.getSessionToken(),
    });
    bobClient.open();
    const bobSeen = [];
    const bobSub = bobClient.subscribe(new Parse.Query(Live), bobSession.getSessionToken());
    bobSub.on('create', (o) => bobSeen.push(o.get('n')));
    await new Promise((resolve) => (bobSub.subscribed ? resolve() : bobSub.on('open', resolve)));
    const hidden = new Live({ n: 77 });
    hidden.setACL(new Parse.ACL(alice));
    await hidden.save(null, master);
    const visible = await new Live({ n: 78 }).save(null, master);
    const started = Date.now();
    while (!bobSeen.includes(78) && Date.now() - started < 10000) await new Promise((r) => setTimeout(r, 50));
    assert.deepStrictEqual(bobSeen, [78]);
    await new Promise((r) => setTimeout(r, 300));
    const before = seen.length; // the master-key subscription saw 77 and 78 too
    assert.deepStrictEqual(seen.slice(5).map((e) => e[1]).sort(), [77, 78]);
    await sub.unsubscribe();
    await bobClient.unsubscribe(bobSub); // (subscription.unsubscribe() would go to the default client)
    await bobClient.close();
    await visible.save({ n: 99 }, master);
    await new Promise((r) => setTimeout(r, 300));
    assert.strictEqual(seen.length, before);
    Parse.LiveQuery.close();
  });

  console.log(JSON.stringify({ passed, failed }));
  process.exit(0); // open LiveQuery sockets of a failed check must not keep Node alive
}

main().catch((err) => {
  console.log(JSON.stringify({ passed, failed: { ...failed, main: String(err && err.stack) } }));
  process.exit(1);
});
