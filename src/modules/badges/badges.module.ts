import { defineModule } from '../../app-module';
import badgeProcessor from './badge-processor.job';
import badgeSync from './badge-sync.job';
import { badgeAdminRoutes, badgeRoutes } from './badges.routes';

export default defineModule({
  name: 'badges',
  routes: [badgeRoutes],
  adminRoutes: [badgeAdminRoutes],
  jobs: [badgeProcessor, badgeSync],
});
