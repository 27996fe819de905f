import type { Job } from './job';

/** Every job the app schedules. Modules add theirs here. */
export const allJobs: Job[] = [];
