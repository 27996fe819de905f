import type { FailedTransactionMetadata } from 'litesvm';

// Names in declaration order of litesvm's const enums (ambient const enums can't be read under isolatedModules).
const TX_ERROR_NAMES = [
  'AccountInUse', 'AccountLoadedTwice', 'AccountNotFound', 'ProgramAccountNotFound', 'InsufficientFundsForFee',
  'InvalidAccountForFee', 'AlreadyProcessed', 'BlockhashNotFound', 'CallChainTooDeep', 'MissingSignatureForFee',
  'InvalidAccountIndex', 'SignatureFailure', 'InvalidProgramForExecution', 'SanitizeFailure', 'ClusterMaintenance',
  'AccountBorrowOutstanding', 'WouldExceedMaxBlockCostLimit', 'UnsupportedVersion', 'InvalidWritableAccount',
  'WouldExceedMaxAccountCostLimit', 'WouldExceedAccountDataBlockLimit', 'TooManyAccountLocks',
  'AddressLookupTableNotFound', 'InvalidAddressLookupTableOwner', 'InvalidAddressLookupTableData',
  'InvalidAddressLookupTableIndex', 'InvalidRentPayingAccount', 'WouldExceedMaxVoteCostLimit',
  'WouldExceedAccountDataTotalLimit', 'MaxLoadedAccountsDataSizeExceeded', 'ResanitizationNeeded',
  'InvalidLoadedAccountsDataSizeLimit', 'UnbalancedTransaction', 'ProgramCacheHitMaxLimit', 'CommitCancelled',
] as const;

const IX_ERROR_NAMES = [
  'GenericError', 'InvalidArgument', 'InvalidInstructionData', 'InvalidAccountData', 'AccountDataTooSmall',
  'InsufficientFunds', 'IncorrectProgramId', 'MissingRequiredSignature', 'AccountAlreadyInitialized',
  'UninitializedAccount', 'UnbalancedInstruction', 'ModifiedProgramId', 'ExternalAccountLamportSpend',
  'ExternalAccountDataModified', 'ReadonlyLamportChange', 'ReadonlyDataModified', 'DuplicateAccountIndex',
  'ExecutableModified', 'RentEpochModified', 'NotEnoughAccountKeys', 'AccountDataSizeChanged',
  'AccountNotExecutable', 'AccountBorrowFailed', 'AccountBorrowOutstanding', 'DuplicateAccountOutOfSync',
  'InvalidError', 'ExecutableDataModified', 'ExecutableLamportChange', 'ExecutableAccountNotRentExempt',
  'UnsupportedProgramId', 'CallDepth', 'MissingAccount', 'ReentrancyNotAllowed', 'MaxSeedLengthExceeded',
  'InvalidSeeds', 'InvalidRealloc', 'ComputationalBudgetExceeded', 'PrivilegeEscalation',
  'ProgramEnvironmentSetupFailure', 'ProgramFailedToComplete', 'ProgramFailedToCompile', 'Immutable',
  'IncorrectAuthority', 'AccountNotRentExempt', 'InvalidAccountOwner', 'ArithmeticOverflow',
  'UnsupportedSysvar', 'IllegalOwner', 'MaxAccountsDataAllocationsExceeded', 'MaxAccountsExceeded',
  'MaxInstructionTraceLengthExceeded', 'BuiltinProgramsMustConsumeComputeUnits', 'BorshIoError',
] as const;

/** The RPC's JSON shape of a TransactionError, e.g. `{"InstructionError":[0,{"Custom":1}]}`. */
export type RpcTransactionError = string | Record<string, unknown>;

export interface DescribedError {
  json: RpcTransactionError;
  message: string;
  /** Whether a cluster would have included the tx in a block (fee charged) despite the error. */
  landed: boolean;
}

export function fieldlessTxError(name: (typeof TX_ERROR_NAMES)[number]): DescribedError {
  return { json: name, message: humanTxError(name), landed: false };
}

export function describeFailure(failed: FailedTransactionMetadata): DescribedError {
  const err: unknown = failed.err();
  if (typeof err === 'number') {
    const name = TX_ERROR_NAMES[err] ?? `TransactionError(${err})`;
    return { json: name, message: humanTxError(name), landed: false };
  }
  const e = err as { constructor: { name: string }; index?: number; accountIndex?: number; err?: () => unknown };
  if (typeof e.err === 'function' && typeof e.index === 'number') {
    const inner: unknown = e.err();
    let ixJson: unknown;
    let ixMessage: string;
    if (typeof inner === 'number') {
      const name = IX_ERROR_NAMES[inner] ?? `InstructionError(${inner})`;
      ixJson = name;
      ixMessage = name;
    } else if (inner && typeof inner === 'object' && 'code' in inner) {
      const code = Number((inner as { code: number }).code);
      ixJson = { Custom: code };
      ixMessage = `custom program error: 0x${code.toString(16)}`;
    } else if (inner && typeof inner === 'object' && 'msg' in inner) {
      ixJson = { BorshIoError: String((inner as { msg: string }).msg) };
      ixMessage = 'Failed to serialize or deserialize account data';
    } else {
      ixJson = 'GenericError';
      ixMessage = 'generic instruction error';
    }
    return {
      json: { InstructionError: [e.index, ixJson] },
      message: `Error processing Instruction ${e.index}: ${ixMessage}`,
      landed: true,
    };
  }
  if (typeof e.accountIndex === 'number') {
    const kind = e.constructor.name.includes('Rent') ? 'InsufficientFundsForRent' : 'ProgramExecutionTemporarilyRestricted';
    return {
      json: { [kind]: { account_index: e.accountIndex } },
      message: `Transaction results in an account (${e.accountIndex}) with insufficient funds for rent`,
      landed: true,
    };
  }
  if (typeof e.index === 'number') {
    return { json: { DuplicateInstruction: e.index }, message: `Transaction contains a duplicate instruction (${e.index})`, landed: false };
  }
  return { json: 'SanitizeFailure', message: String(failed.toString()), landed: false };
}

function humanTxError(name: string): string {
  switch (name) {
    case 'BlockhashNotFound':
      return 'Blockhash not found';
    case 'AlreadyProcessed':
      return 'This transaction has already been processed';
    case 'InsufficientFundsForFee':
      return 'Insufficient funds for fee';
    case 'AccountNotFound':
      return 'Attempt to debit an account but found no record of a prior credit.';
    case 'SignatureFailure':
      return 'Transaction did not pass signature verification';
    default:
      return name;
  }
}
