// Local tooling, not a workspace package and not part of any image: fills a development database.
console.log('seeding the development database (sample: nothing to do)');
