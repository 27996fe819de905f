import { defineModule } from '../../app-module';
import { defineJob } from '../../jobs/job';
import { deliverDms } from './dm-outbox';
import { dmPort } from './dms.discord';

// The member-DM outbox (dm-outbox.ts). Writers send their own DMs right after their commit; this job sends what is
// still owed after a crash, a Discord failure, or on a replica that has no Discord.
export default defineModule({
  name: 'dms',
  jobs: [defineJob({ name: 'dm-outbox', schedule: '*/15 * * * * *', run: (ctx) => deliverDms({ db: ctx.db, log: ctx.log, dms: ctx.effects.dms }) })],
  discord: (deps) => ({ dms: dmPort(deps) }),
});
