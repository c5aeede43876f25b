// node:http2, where narwhal goes past its public API: the compatibility API's request and
// response keep their state in fields of their own and read it through the members of their
// prototypes, which work just as well installed on the objects themselves. That is what keeps
// them working when an app replaces their prototypes (Express does, for every request).

/** The members (accessors and methods) of prototypes, the first given winning over the next. */
export function membersOf(...protos: object[]): PropertyDescriptorMap {
  const members: PropertyDescriptorMap = {};
  for (const proto of [...protos].reverse()) Object.assign(members, Object.getOwnPropertyDescriptors(proto));
  Reflect.deleteProperty(members, 'constructor');
  return members;
}

/** Installs `members` on the object itself, so that they outlive a change of its prototype. */
export function pinMembers(target: object, members: PropertyDescriptorMap): void {
  Object.defineProperties(target, members);
}
