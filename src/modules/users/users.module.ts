import { defineModule } from '../../app-module';
import { userAdminRoutes } from './users.routes';

export default defineModule({
  name: 'users',
  adminRoutes: [userAdminRoutes],
});
