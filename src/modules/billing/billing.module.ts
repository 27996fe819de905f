import { defineModule } from '../../app-module';

export default defineModule({
  name: 'billing',
});
