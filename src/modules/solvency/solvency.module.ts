import { defineModule } from '../../app-module';
import solvencyCheck from './solvency-check.job';

export default defineModule({ name: 'solvency', jobs: [solvencyCheck] });
